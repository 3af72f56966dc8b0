// Command refgen writes docs/reference.md, the reference of every command
// and option, from config's tables:
//
//	go run ./config/internal/refgen > docs/reference.md
//	go run ./config/internal/refgen -o docs/reference.md   (PowerShell's > writes UTF-16)
//
// config's TestReferenceIsUpToDate fails when docs/reference.md differs.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/upnsync/upnsync/config"
)

func main() {
	out := flag.String("o", "", "write to this file instead of standard output")
	flag.Parse()
	var b bytes.Buffer
	config.Reference(&b)
	if *out == "" {
		os.Stdout.Write(b.Bytes())
		return
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "refgen:", err)
		os.Exit(1)
	}
}
