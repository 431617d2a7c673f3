package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/cluster"
)

func TestClientAddr(t *testing.T) {
	peers := []cluster.Peer{
		{ID: "n1", Addr: "10.0.0.1:7001", ClusterAddr: "10.0.0.1:17001"},
		{ID: "n2", Addr: ":7002", ClusterAddr: "10.0.0.2:17002"},
	}
	for _, tc := range []struct {
		args  []string
		peers []cluster.Peer
		want  string
	}{
		{[]string{"--addr", ":6379"}, nil, "127.0.0.1:6379"},
		{[]string{"--addr", "0.0.0.0:6379"}, nil, "127.0.0.1:6379"},
		{[]string{"--addr", "[::]:6379"}, nil, "127.0.0.1:6379"},
		{[]string{"--addr", "192.168.1.5:6379"}, nil, "192.168.1.5:6379"},
		{[]string{"--addr", ":6379", "--advertise", "cache.example:7000"}, nil, "cache.example:7000"},
		{[]string{"--id", "n1", "--addr", ":7001"}, peers, "10.0.0.1:7001"},
		{[]string{"--id", "n1", "--addr", ":7001", "--advertise", "1.2.3.4:9"}, peers, "1.2.3.4:9"},
		{[]string{"--id", "n2", "--addr", ":7002"}, peers, "127.0.0.1:7002"},
		{[]string{"--id", "n3", "--addr", "127.0.0.1:7003"}, peers, "127.0.0.1:7003"},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got, err := o.clientAddr(tc.peers); err != nil || got != tc.want {
			t.Errorf("%v: clientAddr = %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}
	for _, bad := range []string{"nohostport", ":6379", "0.0.0.0:1"} {
		if _, err := parseFlags([]string{"--advertise", bad}, io.Discard); err == nil {
			t.Errorf("--advertise %q accepted", bad)
		}
	}
}

// TestREADMEListsEveryFlag keeps the README's flags table complete: every
// flag in the usage text has a row.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var usage strings.Builder
	if _, err := parseFlags([]string{"-h"}, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	n := 0
	for _, line := range strings.Split(usage.String(), "\n") {
		if !strings.HasPrefix(line, "  -") {
			continue
		}
		name := strings.Fields(strings.TrimPrefix(line, "  -"))[0]
		n++
		if !strings.Contains(string(readme), "| `--"+name+"` |") {
			t.Errorf("README's flags table has no row for --%s", name)
		}
	}
	if n < 10 {
		t.Fatalf("found only %d flags in the usage text:\n%s", n, usage.String())
	}
}
