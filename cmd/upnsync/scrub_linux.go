package main

import (
	"unsafe"

	"github.com/upnsync/upnsync/config"
)

// scrubArgs overwrites the secrets given on the command line (--password,
// /Password:, the password in a --store postgres:// URL) with asterisks in the process's own memory, so that other
// users of the machine no longer see them in ps or /proc/PID/cmdline once
// upnsync has parsed its arguments. On Linux the strings of os.Args are the
// kernel's argv area itself, which /proc/PID/cmdline shows, so writing to
// them rewrites the command line. config.Parse has copied the password
// (config.NewSecret), so nothing upnsync keeps shares those bytes.
//
// The password was visible between the start and the parse, and its length
// still is: the warning to use --password-file stays.
func scrubArgs(args []string, secrets []config.SecretArg) {
	for _, sa := range secrets {
		if sa.Index < 0 || sa.Index >= len(args) {
			continue
		}
		a := args[sa.Index]
		if sa.From < 0 || sa.From >= len(a) {
			continue
		}
		end := len(a)
		if sa.To > sa.From && sa.To < end {
			end = sa.To // a password inside a --store URL
		}
		b := unsafe.Slice(unsafe.StringData(a), len(a))
		for i := sa.From; i < end; i++ {
			b[i] = '*'
		}
	}
}
