package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill cmd when the harness dies, so a
// killed harness leaves no servers behind.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
