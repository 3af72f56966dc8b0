// Package trust builds the set of certificate authorities a TLS client of
// upnsync trusts: the system's, plus those of --ca-file.
package trust

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Pool returns the system's CA certificates plus those of the PEM file
// caFile ("" adds none). The error names the file and what to do.
func Pool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read the CA file %s given with --ca-file: %v", caFile, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA certificate in PEM form", caFile)
	}
	return pool, nil
}
