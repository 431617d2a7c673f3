package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// TestPipelineRunsAreBatchedPerShard sends 100 SETs and 100 GETs over the
// three fake shards in one write: the SETs reach each shard as one
// proposal, the GETs as one read batch, and the replies come back in the
// order of the commands, a GET seeing the SET before it.
func TestPipelineRunsAreBatchedPerShard(t *testing.T) {
	s, b := startServer(t)
	rc := dialRaw(t, s)
	var req, want strings.Builder
	for i := 0; i < 100; i++ {
		k, v := fmt.Sprintf("pk%d", i), fmt.Sprintf("v%d", i)
		fmt.Fprintf(&req, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
		want.WriteString("+OK\r\n")
	}
	for i := 0; i < 100; i++ {
		k, v := fmt.Sprintf("pk%d", i), fmt.Sprintf("v%d", i)
		fmt.Fprintf(&req, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
		fmt.Fprintf(&want, "$%d\r\n%s\r\n", len(v), v)
	}
	before := len(b.proposals())
	rc.send(req.String())
	rc.expect(want.String())
	// redcon may read the 200 commands in a few chunks; each chunk's
	// commands reach each shard as at most one proposal (a shard's GETs
	// ride along in the log when SETs for it are in the same chunk).
	proposals := b.proposals()[before:]
	sets := 0
	for _, p := range proposals {
		for _, cmd := range p {
			if string(cmd[0]) == "SET" {
				sets++
			}
		}
	}
	if sets != 100 {
		t.Fatalf("proposals carried %d SETs, want 100", sets)
	}
	if len(proposals) > 9 {
		t.Fatalf("100 pipelined SETs over 3 shards made %d proposals, want a few", len(proposals))
	}
}

// TestPipelineMixesBatchesAndSingleCommands interleaves batchable
// commands with ones served alone (PING, MULTI/EXEC, a cross-shard MGET)
// and checks every reply and its order.
func TestPipelineMixesBatchesAndSingleCommands(t *testing.T) {
	s, _ := startServer(t)
	rc := dialRaw(t, s)
	rc.send("SET a 1\r\nINCR a\r\nPING\r\nGET a\r\nMULTI\r\nINCR a\r\nGET a\r\nEXEC\r\nSET b 2\r\nMGET a b nokey\r\nGET b\r\n")
	rc.expect("+OK\r\n:2\r\n+PONG\r\n$1\r\n2\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:3\r\n$1\r\n3\r\n+OK\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$-1\r\n$1\r\n2\r\n")
}

// TestPipelineStopsAtQuit: commands after QUIT are not served.
func TestPipelineStopsAtQuit(t *testing.T) {
	s, b := startServer(t)
	rc := dialRaw(t, s)
	rc.send("SET q1 1\r\nSET q2 2\r\nQUIT\r\nSET q3 3\r\nSET q4 4\r\n")
	rc.expect("+OK\r\n+OK\r\n+OK\r\n")
	rc.expectClosed()
	for _, k := range []string{"q3", "q4"} {
		if r := b.shards[b.ShardOfSlot(store.SlotOf([]byte(k)))].Read(0, [][]byte{[]byte("GET"), []byte(k)}); r.Kind != resp.KindNull {
			t.Fatalf("%s was set after QUIT", k)
		}
	}
}

// TestPipelineRunOverLocalAndRemoteShards pipelines GETs, then SETs and
// GETs, over three shards of which this node leads two: reads of the led
// shards run on the connection's goroutine, the others concurrently, and
// every reply comes back in the order of the commands.
func TestPipelineRunOverLocalAndRemoteShards(t *testing.T) {
	s, b := startServer(t)
	b.setCluster([]cluster.Peer{
		{ID: "fake", Addr: "127.0.0.1:1", Self: true},
		{ID: "other", Addr: "127.0.0.1:2"},
	}, []string{"fake", "other", "fake"})
	rc := dialRaw(t, s)
	keys := map[int][]string{}
	for i := 0; len(keys[0]) < 5 || len(keys[1]) < 5 || len(keys[2]) < 5; i++ {
		k := fmt.Sprintf("k%d", i)
		shard := b.ShardOfSlot(store.SlotOf([]byte(k)))
		keys[shard] = append(keys[shard], k)
	}
	var gets, sets, values strings.Builder
	for i := 0; i < 5; i++ {
		for shard := 0; shard < 3; shard++ {
			k := keys[shard][i]
			gets.WriteString("GET " + k + "\r\n")
			sets.WriteString("SET " + k + " v" + k + "\r\n")
			fmt.Fprintf(&values, "$%d\r\nv%s\r\n", len(k)+1, k)
		}
	}
	wantAll := strings.Repeat("$-1\r\n", 15) + strings.Repeat("+OK\r\n", 15) + values.String()
	rc.send(gets.String() + sets.String() + gets.String())
	rc.expect(wantAll)
}
