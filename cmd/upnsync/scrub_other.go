//go:build !linux

package main

import "github.com/upnsync/upnsync/config"

// scrubArgs does nothing here: on Windows (and other systems) the command
// line others can read is not the memory behind os.Args, so a password
// given with /Password: or --password stays visible to other users for as
// long as upnsync runs. That is why upnsync warns about it and recommends
// /PasswordFile: or the UPNSYNC_PASSWORD environment variable.
func scrubArgs([]string, []config.SecretArg) {}
