package config

import (
	"strings"
	"testing"
	"time"
)

func TestIncrementalOptions(t *testing.T) {
	base := []string{"--config-file-path", "m.xml", "--directory", "ldaps://dc1"}
	s := mustParse(t, base, noenv)
	if s.Incremental || s.DirSync || s.FullEvery != DefaultFullEvery {
		t.Fatalf("defaults: incremental %t dirsync %t full-every %s", s.Incremental, s.DirSync, s.FullEvery)
	}
	gnu := mustParse(t, append(base, "--incremental", "--full-every", "36h"), noenv)
	win := mustParse(t, append(base, "/incremental", "/FULLEVERY:36h"), noenv)
	for _, s := range []*Settings{gnu, win} {
		if !s.Incremental || s.FullEvery != 36*time.Hour {
			t.Errorf("incremental %t full-every %s", s.Incremental, s.FullEvery)
		}
	}
	if s := mustParse(t, append(base, "/DirSync"), noenv); !s.DirSync {
		t.Error("/DirSync not taken")
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{append(base, "--incremental", "--dirsync"), "give one of them"},
		{[]string{"plan", "--config-file-path", "m.xml", "--directory", "ldaps://dc1", "--out", "p.json", "--incremental"}, "for upnsync sync"},
		{append(base, "--full-every", "0"), "positive duration"},
	} {
		if _, err := Parse(tt.args, noenv); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
	if _, err := Parse([]string{"doctor", "--directory", "ldaps://dc1", "--dirsync"}, noenv); err != nil {
		t.Errorf("doctor --dirsync: %v", err)
	}
}
