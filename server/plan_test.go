package server

import (
	"slices"
	"testing"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// TestJoinedTable checks the server's half of the command table against
// resp's: every command is served by someone, the server and the store
// share only the commands that need both, and the transaction roles name
// real commands.
func TestJoinedTable(t *testing.T) {
	both := []string{"dbsize", "flushall", "flushdb", "keys", "memory", "randomkey", "scan"}
	var gotBoth []string
	for _, cmd := range resp.Commands() {
		sv := servingOf(cmd)
		switch {
		case sv.handler == nil && !sv.store:
			t.Errorf("%s: in the table, but neither the server nor the store serves it", cmd.Name)
		case sv.handler != nil && sv.store:
			gotBoth = append(gotBoth, cmd.Name)
		}
		if sv.store != store.Runs(cmd) {
			t.Errorf("%s: store %v, but store.Runs says %v", cmd.Name, sv.store, store.Runs(cmd))
		}
		if sv.wide && (sv.handler == nil || !sv.store) {
			t.Errorf("%s: keyspace-wide needs a server handler and a store handler", cmd.Name)
		}
		if sv.txControl && sv.handler == nil {
			t.Errorf("%s: runs inside MULTI but the server has no handler", cmd.Name)
		}
		if cmd.Subcommands != nil && sv.store && sv.handler == nil {
			// A store-run container is routed by its subcommands' keys.
			for _, sub := range cmd.Subcommands {
				if sub.FirstKey == 0 && sub.Name != "help" {
					t.Errorf("%s: a store-run subcommand with no key to route by", sub.FullName)
				}
			}
		}
	}
	slices.Sort(gotBoth)
	if !slices.Equal(gotBoth, both) {
		t.Errorf("served by both the server and the store: %q, want %q", gotBoth, both)
	}
	for i := range resp.NumCommands() {
		if c := resp.ByID(i); c == nil || c.ID != i {
			t.Fatalf("resp.ByID(%d) = %v", i, c)
		}
	}
}

// TestClassify checks the plan of representative commands on a node with
// the fake backend's shards.
func TestClassify(t *testing.T) {
	s, _ := startServer(t)
	c := &client{}
	for _, tc := range []struct {
		args        []string
		refusal     string
		name        string
		data, write bool
		shards      int // 0: no keys; 1: one shard; 2: spans shards
	}{
		{args: nil, refusal: "ERR unknown command '', with args beginning with: "},
		{args: []string{"nosuch", "x"}, refusal: "ERR unknown command 'nosuch', with args beginning with: 'x' "},
		{args: []string{"get"}, refusal: "ERR wrong number of arguments for 'get' command"},
		{args: []string{"client", "nosuch"}, refusal: "ERR unknown subcommand 'nosuch'. Try CLIENT HELP."},
		{args: []string{"client", "setname"}, refusal: "ERR wrong number of arguments for 'client|setname' command"},
		{args: []string{"GET", "k"}, name: "get", data: true, shards: 1},
		{args: []string{"set", "k", "v"}, name: "set", data: true, write: true, shards: 1},
		{args: []string{"mset", "{a}1", "v", "{a}2", "v"}, name: "mset", data: true, write: true, shards: 1},
		{args: []string{"ping"}, name: "ping"},
		{args: []string{"client", "setname", "x"}, name: "client|setname"},
		{args: []string{"object", "encoding", "k"}, name: "object|encoding", data: true, shards: 1},
		{args: []string{"object", "help"}, name: "object|help", data: true},
		{args: []string{"memory", "usage", "k"}, name: "memory|usage"},
	} {
		args := make([][]byte, len(tc.args))
		for i, a := range tc.args {
			args[i] = []byte(a)
		}
		p, refusal, ok := s.classify(c, args)
		if tc.refusal != "" {
			if ok || !refusal.IsError() || string(refusal.Str) != tc.refusal {
				t.Errorf("%q: ok %v, refusal %q; want %q", tc.args, ok, refusal.Str, tc.refusal)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: refused: %q", tc.args, refusal.Str)
			continue
		}
		if p.name() != tc.name || p.data() != tc.data || p.write != tc.write {
			t.Errorf("%q: name %q data %v write %v; want %q %v %v", tc.args, p.name(), p.data(), p.write,
				tc.name, tc.data, tc.write)
		}
		if tc.shards == 0 && p.shard >= 0 || tc.shards > 0 && p.shard < 0 {
			t.Errorf("%q: shard %d, want keys %v", tc.args, p.shard, tc.shards > 0)
		}
		if tc.shards > 0 && p.slot != int(store.SlotOf(args[c.keyPos[0]])) {
			t.Errorf("%q: slot %d, want the first key's", tc.args, p.slot)
		}
		if p.spans != (tc.shards == 2) {
			t.Errorf("%q: spans %v", tc.args, p.spans)
		}
	}
	// Keys in different shards: find two whose shards differ.
	if n := s.backend.NumShards(); n > 1 {
		a := []byte("a")
		for i := 0; ; i++ {
			b := []byte{byte('b' + i%20), byte('0' + i/20)}
			if s.backend.ShardOfSlot(store.SlotOf(a)) != s.backend.ShardOfSlot(store.SlotOf(b)) {
				p, _, ok := s.classify(c, [][]byte{[]byte("mget"), a, b})
				if !ok || !p.spans || p.shard != s.backend.ShardOfSlot(store.SlotOf(a)) {
					t.Errorf("mget across shards: ok %v spans %v shard %d", ok, p.spans, p.shard)
				}
				break
			}
		}
	}
}
