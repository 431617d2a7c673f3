package store

import (
	"strconv"
	"testing"
)

// TestExportImport: a record read with CmdExport and written with
// CmdImport in another store is the same key: value, fields in order,
// expiry time and encoding.
func TestExportImport(t *testing.T) {
	big := []string{"HSET", "big"}
	for i := range 200 {
		big = append(big, "f"+strconv.Itoa(i), "v")
	}
	cases := []struct {
		name  string
		setup [][]string
		key   string
		reads [][]string
	}{
		{"string with ttl", [][]string{{"SET", "s", "hello", "PXAT", "9000000"}}, "s",
			[][]string{{"GET", "s"}, {"PEXPIRETIME", "s"}, {"OBJECT", "ENCODING", "s"}}},
		{"integer", [][]string{{"SET", "i", "12"}}, "i", [][]string{{"GET", "i"}, {"OBJECT", "ENCODING", "i"}}},
		{"raw", [][]string{{"SET", "r", "a"}, {"APPEND", "r", "b"}}, "r", [][]string{{"GET", "r"}, {"OBJECT", "ENCODING", "r"}}},
		{"small hash", [][]string{{"HSET", "h", "z", "1", "a", "2"}, {"PEXPIREAT", "h", "8000000"}}, "h",
			[][]string{{"HGETALL", "h"}, {"PEXPIRETIME", "h"}, {"OBJECT", "ENCODING", "h"}}},
		{"large hash", [][]string{big}, "big", [][]string{{"HLEN", "big"}, {"HGET", "big", "f7"}, {"OBJECT", "ENCODING", "big"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := New(), New()
			for _, c := range tc.setup {
				do(src, 1000, argv(c...))
			}
			do(dst, 1000, argv("HSET", "dst", "old", "x")) // replaced
			rec := do(src, 1001, ExportArgs([]byte(tc.key)))
			args, ok := ImportArgs([]byte("dst"), rec, false)
			if !ok {
				t.Fatalf("export: %s", fmtReply(rec))
			}
			mustEqual(t, "import", do(dst, 1002, args), simple("OK"))
			for _, r := range tc.reads {
				onDst := append([]string(nil), r...)
				for i, w := range onDst {
					if w == tc.key {
						onDst[i] = "dst"
					}
				}
				mustEqual(t, r[0], do(dst, 1003, argv(onDst...)), do(src, 1003, argv(r...)))
			}
			checkCounts(t, dst)
		})
	}
	if r := do(New(), 1000, ExportArgs([]byte("missing"))); r.Kind != 0 {
		t.Fatalf("export of a missing key: %s", fmtReply(r))
	}
	for _, bad := range [][]string{{CmdImport, "k"}, {CmdImport, "k", "9", "0", "v"}, {CmdImport, "k", "4", "0", "f"},
		{CmdImport, "k", "0", "-1", "v"}, {CmdImport, "k", "0", "0", "v", "w"}} {
		if r := do(New(), 1000, argv(bad...)); !r.IsError() {
			t.Fatalf("%q: %s", bad, fmtReply(r))
		}
	}
}
