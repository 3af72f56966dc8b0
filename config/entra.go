package config

import (
	"fmt"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Microsoft Entra ID's settings (--directory entra:TENANT): the options
// are in the table (options.go); what the command line cannot say alone
// is here. Which way to sign in the options name, and their
// contradictions, are sync/directory/entra's (Open), the one place that
// signs in.

// resolveEntraSecrets takes the client secret from --client-secret-file,
// else UPNSYNC_CLIENT_SECRET, and a PFX's password from
// --client-certificate-password-file, else
// UPNSYNC_CLIENT_CERTIFICATE_PASSWORD: never from the command line, where
// other users could read them, nor from a settings file.
func resolveEntraSecrets(s *Settings, getenv func(string) string) error {
	if err := s.fileOrEnvSecret("client-secret-file", "client secret file", "client-secret", getenv,
		&s.ClientSecret, &s.clientSecretFrom); err != nil {
		return err
	}
	if err := s.fileOrEnvSecret("client-certificate-password-file", "certificate password file", "client-certificate-password", getenv,
		&s.ClientCertificatePassword, &s.certPasswordFrom); err != nil {
		return err
	}
	if !s.ClientCertificatePassword.IsZero() && s.ClientCertificate == "" {
		return usagef("a certificate password (%s) opens the PFX file of --client-certificate, which is not given", s.certPasswordFrom)
	}
	return nil
}

// ClientSecretSource says where the Entra ID client secret came from
// (never the secret): a file, the environment, or "none".
func (s *Settings) ClientSecretSource() string { return orNone(s.clientSecretFrom) }

// ClientCertificatePasswordSource says where the PFX password came from.
func (s *Settings) ClientCertificatePasswordSource() string { return orNone(s.certPasswordFrom) }

func orNone(from string) string {
	if from == "" {
		return "none"
	}
	return from
}

// managedIdentity is --managed-identity [CLIENT_ID]: true or false, or
// the client ID of a user-assigned managed identity.
func managedIdentity() value {
	return custom{
		setFn: func(s *Settings, v string) error {
			if b, err := parseBool(v); err == nil {
				s.ManagedIdentity, s.ManagedIdentityClientID = b, ""
				return nil
			}
			if !isGUID(v) {
				return fmt.Errorf("%q is not the client ID of a managed identity (a GUID such as 01234567-89ab-cdef-0123-456789abcdef), true or false", v)
			}
			s.ManagedIdentity, s.ManagedIdentityClientID = true, strings.TrimSpace(v)
			return nil
		},
		textFn: func(s *Settings) string {
			switch {
			case !s.ManagedIdentity:
				return ""
			case s.ManagedIdentityClientID == "":
				return "system-assigned"
			}
			return s.ManagedIdentityClientID
		},
		zeroFn:  func(s *Settings) bool { return !s.ManagedIdentity },
		resetFn: func(s *Settings) { s.ManagedIdentity, s.ManagedIdentityClientID = false, "" },
	}
}

// isGUID tells a GUID (8-4-4-4-12 hexadecimal digits, braces allowed), as
// Entra ID writes client IDs. (Not upnsync.NormalizeGUID, which also reads
// the forms an ExternalIdentifier may hold.)
func isGUID(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) == 38 && v[0] == '{' && v[37] == '}' {
		v = v[1:37]
	}
	return upnsync.IsGUID(strings.ToLower(v))
}
