package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/upnsync/upnsync/sync/directory"
)

// adsiPaths rewrites each --domain given as an ADSI path
// (LDAP://dc1.corp.example.com/OU=Berlin,DC=corp,DC=example,DC=com, the
// form administrators copy from Windows tools) into the base's DN, and,
// when no --directory is given, makes its server the directory: StartTLS
// on ADSI's port 389, as for a domain controller found through DNS;
// ldaps:// on 636 and 3269; found through DNS when the path names no
// server or the domain itself. A warning says how the path was read and
// how to write it. A server that is not used (--directory names another
// one) is named in a warning too; paths naming different servers without
// --directory are refused.
func (s *Settings) adsiPaths() error {
	var servers []string // the directory each path names, in order
	var paths, rewritten []string
	gc := false
	for i, v := range s.Domains {
		if !directory.IsADSIPath(v) {
			continue
		}
		p, err := directory.ParseADSIPath(v)
		if err != nil {
			return usagef("%v", err)
		}
		gc = gc || p.GC
		dirURL, startTLS := p.Directory()
		if s.Directory != "" {
			if p.Host != "" && !sameHost(p.Host, s.Directory) {
				s.Warnings = append(s.Warnings, fmt.Sprintf("--domain %s: the server %s is not used: --directory %s names the directory; the base read is %s",
					strings.TrimSpace(v), p.Host, s.Directory, baseText(p.DN)))
			}
		} else {
			how := dirURL
			switch {
			case dirURL == "":
				how = "the domain controllers found through DNS (StartTLS)"
			case startTLS && p.GC:
				how = dirURL + " with StartTLS (ADSI's GC:// is port 3268; for LDAPS give --directory ldaps://" + hostOnly(p.Host) + " --global-catalog)"
			case startTLS:
				how = dirURL + " with StartTLS (ADSI's LDAP:// is port 389; for LDAPS give --directory ldaps://" + hostOnly(p.Host) + ")"
			}
			if len(servers) > 0 && servers[0] != dirURL {
				return usagef("--domain %s and --domain %s name different servers: give --directory for the one to read, and the bases as DNs", paths[0], strings.TrimSpace(v))
			}
			servers = append(servers, dirURL)
			rewritten = append(rewritten, fmt.Sprintf("--domain %s is read as %s on %s", strings.TrimSpace(v), baseText(p.DN), how))
			if startTLS {
				s.StartTLS = true
			}
		}
		paths = append(paths, strings.TrimSpace(v))
		s.Domains[i] = p.DN
	}
	if len(paths) == 0 {
		return nil
	}
	s.Domains = dropEmpty(s.Domains)
	if s.Directory == "" && servers[0] != "" {
		s.Directory = servers[0]
	}
	if gc && !s.GlobalCatalog {
		s.GlobalCatalog = true
		rewritten = append(rewritten, "GC:// reads the Global Catalog (--global-catalog)")
	}
	if len(rewritten) > 0 {
		canonical := ""
		if s.Directory != "" {
			canonical = "--directory " + s.Directory + " "
			if s.StartTLS {
				canonical += "--start-tls "
			}
		}
		for _, d := range s.Domains {
			canonical += "--domain " + d + " "
		}
		if gc {
			canonical += "--global-catalog"
		}
		s.Warnings = append(s.Warnings, strings.Join(rewritten, "; ")+"; write "+strings.TrimSpace(canonical)+" to say so yourself")
	}
	if len(s.Domains) == 0 && s.Directory == "" {
		return usagef("--domain %s names no base and no server: give the base's DN", paths[0])
	}
	return nil
}

func baseText(dn string) string {
	if dn == "" {
		return "the server's default naming context"
	}
	return dn
}

// sameHost reports whether an ADSI path's server (host or host:port) is the
// host of a --directory URL.
func sameHost(hostPort, dirURL string) bool {
	u, err := url.Parse(strings.TrimSpace(dirURL))
	if err != nil {
		return false
	}
	return strings.EqualFold(strings.TrimSuffix(hostOnly(hostPort), "."), strings.TrimSuffix(u.Hostname(), "."))
}

func hostOnly(hostPort string) string {
	if u, err := url.Parse("//" + hostPort); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return hostPort
}

func dropEmpty(list []string) []string {
	out := list[:0]
	for _, v := range list {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
