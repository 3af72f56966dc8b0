package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPool(t *testing.T) {
	if p, err := Pool(""); err != nil || p == nil {
		t.Fatalf("Pool(\"\") = %v, %v", p, err)
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	if _, err := Pool(missing); err == nil || !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "open ") {
		t.Fatalf("missing file: %v", err)
	}
	notPEM := filepath.Join(dir, "ca.der")
	os.WriteFile(notPEM, []byte{0x30, 0x82, 0x01}, 0o600)
	if _, err := Pool(notPEM); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("not PEM: %v", err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	p, err := Pool(ca)
	if err != nil {
		t.Fatalf("a PEM CA: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: p}); err != nil {
		t.Fatalf("the CA is not trusted by the pool: %v", err)
	}
}
