package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
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

// TestConfigFile checks --config: every option is a flag's name, flags
// on the command line win, booleans may be yes or no, includes are read,
// and an unknown option or a bad value names its file and line.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "raftcache.conf")
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "peers.conf"), "peers n1=10.0.0.1:7001@17001,n2=10.0.0.2:7002@17002\n")
	write(conf, `# a node
id n2
addr 127.0.0.1:7002
include peers.conf
shards 5
balance-leaders no
join yes
requirepass "two words"
slowlog-log-slower-than 0
latency-tracking-info-percentiles 50 99
client-output-buffer-limit 32mb
`)
	o, err := parseFlags([]string{"--config", conf, "--shards", "7"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.id != "n2" || o.addr != "127.0.0.1:7002" || o.shards != 7 || o.balanceLeaders || !o.join ||
		o.requirePass != "two words" || o.slowlogSlowerThan != 0 || o.latencyPercentiles != "50 99" ||
		o.outputBufferLimit != 32<<20 || !strings.HasPrefix(o.peers, "n1=10.0.0.1:7001@17001") ||
		o.clusterAddr != "127.0.0.1:17002" || !filepath.IsAbs(o.configFile) {
		t.Fatalf("options from the file: %+v", o)
	}
	for _, p := range o.params() {
		if p.Name == "latency-tracking-info-percentiles" && p.Value != "50 99" {
			t.Errorf("param %+v", p)
		}
	}
	for text, want := range map[string]string{
		"nosuch 1\n":          "raftcache.conf:1: unknown option \"nosuch\"",
		"id n1\nshards x\n":   "raftcache.conf:2: shards \"x\"",
		"config other.conf\n": "unknown option \"config\"",
		"fsync never\n":       "--fsync",
		"include nope.conf\n": "does not exist",
	} {
		write(conf, text)
		if _, err := parseFlags([]string{"--config", conf}, io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", text, err, want)
		}
	}
	if _, err := parseFlags([]string{"--config", filepath.Join(dir, "missing.conf")}, io.Discard); err == nil {
		t.Error("a missing config file was accepted")
	}
}

// TestTLSFlags checks the TLS options: in the config file and as flags,
// the addresses they make, and what is refused before any file is read.
func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "tls.conf")
	if err := os.WriteFile(conf, []byte(`addr 127.0.0.1:7001
port 0
tls-port 7101
tls-cert-file /etc/raftcache/node.crt
tls-key-file /etc/raftcache/node.key
tls-key-file-pass "a pass"
tls-ca-cert-file /etc/raftcache/ca.crt
tls-auth-clients optional
tls-protocols "TLSv1.2 TLSv1.3"
tls-ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384
tls-ciphersuites TLS_AES_256_GCM_SHA384
tls-prefer-server-ciphers yes
tls-cluster yes
`), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"--config", conf}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.plainAddr() != "" || o.tlsAddr() != "127.0.0.1:7101" || !o.tlsCluster || o.tls.AuthClients != "optional" ||
		o.tls.KeyFilePass != "a pass" || !o.tls.PreferServerCiphers || o.tls.Protocols != "TLSv1.2 TLSv1.3" {
		t.Fatalf("options: %+v", o)
	}
	// No plain-text port: the node is known by its TLS address, and its
	// cluster port is the TLS port + 10000, as in Redis.
	if got, _ := o.clientAddr(nil); got != "127.0.0.1:7101" || o.clusterAddr != "127.0.0.1:17101" {
		t.Fatalf("client address %q, cluster address %q", got, o.clusterAddr)
	}
	o, err = parseFlags([]string{"--addr", ":7001", "--tls-port", "7101", "--tls-cert-file", "c", "--tls-key-file", "k"}, io.Discard)
	if err != nil || o.plainAddr() != ":7001" || o.tlsAddr() != ":7101" || o.clusterAddr != ":17001" {
		t.Fatalf("plain and TLS: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--port", "0"},
		{"--tls-port", "7101"},
		{"--tls-cluster", "yes", "--tls-cert-file", "c", "--tls-key-file", "k"},
		{"--tls-port", "1", "--tls-cert-file", "c", "--tls-key-file", "k", "--tls-auth-clients", "maybe"},
		{"--tls-port", "1", "--tls-cert-file", "c", "--tls-key-file", "k", "--tls-protocols", "TLSv1"},
		{"--tls-port", "1", "--tls-cert-file", "c", "--tls-key-file", "k", "--tls-ciphers", "RC4-SHA"},
		{"--tls-port", "70000"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
