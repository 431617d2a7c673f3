package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/test/lin"
)

// pausedLeaderRead is the lease's hardest case, played out once: a shard's
// leader is frozen (SIGSTOP) while it holds a lease, the others elect a
// new leader and acknowledge a SET, then a GET is sent to the frozen
// leader — after the SET was acknowledged — and the leader is thawed. A
// correct lease has run out by then; a lease longer than the followers'
// vote promise answers the old value. The operations go into rec; it
// returns what the GETs answered: the old value if any GET answered it.
func pausedLeaderRead(t *testing.T, fc *faultCluster, rec *lin.Recorder, shard, attempt int) string {
	t.Helper()
	key := fc.keyInShard(shard, fmt.Sprintf("lease:%d", attempt))
	leader := fc.leaderOf(shard, fc.procs)
	others := fc.liveExcept(leader)
	ctx := context.Background()
	via := redis.NewClient(&redis.Options{Addr: others[0].addr(), MaxRetries: -1, ReadTimeout: 10 * time.Second})
	defer via.Close()
	set := func(value string) {
		t.Helper()
		in := lin.Input{Kind: lin.Set, Key: key, Value: value}
		deadline := time.Now().Add(30 * time.Second)
		for {
			call := rec.Now()
			err := via.Set(ctx, key, value, 0).Err()
			if err == nil {
				rec.Add(lin.Op{Client: rec.NewClient(), Input: in, Output: lin.Output{Str: "OK"}, Call: call, Return: rec.Now()})
				return
			}
			if outcome, _ := lin.Classify(err); outcome != lin.NotDone || time.Now().After(deadline) {
				t.Fatalf("SET %s %s: %v", key, value, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	old, fresh := lin.SetValue(int64(2*attempt+1)), lin.SetValue(int64(2*attempt+2))
	set(old)

	// The GETs go over connections the frozen leader accepted before:
	// several, so that one of them may beat the thawed leader's raft to
	// learning of the new term.
	const conns = 8
	var cs []net.Conn
	var rs []*bufio.Reader
	for range conns {
		conn, err := net.DialTimeout("tcp", leader.addr(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		if _, err := conn.Write([]byte("PING\r\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
			t.Fatalf("PING %s: %q, %v", leader.id, line, err)
		}
		cs, rs = append(cs, conn), append(rs, r)
	}
	waitFor(t, fmt.Sprintf("%s to hold a read lease on shard %d", leader.id, shard), 10*time.Second, func() bool {
		infos, ok := shardInfos(leader.addr())
		return ok && infos[shard].leader == leader.id && infos[shard].leaseMS > 0
	})

	fc.pause(leader)
	waitFor(t, fmt.Sprintf("a new leader of shard %d", shard), 30*time.Second, func() bool {
		infos, ok := shardInfos(others[0].addr())
		return ok && infos[shard].leader != "" && infos[shard].leader != leader.id
	})
	set(fresh)

	call := rec.Now()
	cmd := fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
	for _, conn := range cs {
		if _, err := conn.Write([]byte(cmd)); err != nil {
			t.Fatal(err)
		}
	}
	fc.resume(leader)
	answer := ""
	for i, r := range rs {
		_ = cs[i].SetReadDeadline(time.Now().Add(15 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("GET %s from the thawed %s: %v", key, leader.id, err)
		}
		in := lin.Input{Kind: lin.Get, Key: key}
		switch {
		case strings.HasPrefix(line, "$"):
			n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Fatal(err)
			}
			got := string(buf[:n])
			rec.Add(lin.Op{Client: rec.NewClient(), Input: in, Output: lin.Output{Str: got}, Call: call, Return: rec.Now(),
				Note: "thawed leader " + leader.id})
			if answer == "" || got == old {
				answer = got
			}
		case strings.HasPrefix(line, "-"):
			// Refused: it ran nowhere, and says nothing.
			if answer == "" {
				answer = strings.TrimSpace(line)
			}
		default:
			t.Fatalf("GET %s: unexpected reply %q", key, line)
		}
	}
	return answer
}

// TestLeaseSurvivesAFrozenLeader plays pausedLeaderRead against the real
// lease: the thawed leader must never answer the value the new leader
// overwrote, and the checker must find the history linearizable.
func TestLeaseSurvivesAFrozenLeader(t *testing.T) {
	fc := newFaultCluster(t, 3, 3, false)
	rec := lin.NewRecorder()
	for attempt := range 3 {
		got := pausedLeaderRead(t, fc, rec, attempt%3, attempt)
		if got == lin.SetValue(int64(2*attempt+1)) {
			t.Errorf("attempt %d: the thawed leader served the overwritten value %s", attempt, got)
		}
		t.Logf("attempt %d: the thawed leader answered %s", attempt, got)
		fc.waitHealthy(60 * time.Second)
	}
	if v := lin.Check(rec.Ops(), time.Minute); v.Result != porcupine.Ok {
		t.Fatalf("checker: %v", v)
	}
	fc.checkProcesses()
}

// TestCheckerCatchesAWrongLease runs the same scenario on a cluster whose
// leases are deliberately longer than the followers' vote promise
// (--unsafe-read-lease): a thawed leader serves the overwritten value, and
// the checker must say so.
func TestCheckerCatchesAWrongLease(t *testing.T) {
	fc := newFaultCluster(t, 3, 3, false, "--unsafe-read-lease", "60s")
	rec := lin.NewRecorder()
	stale := 0
	for attempt := 0; attempt < 10 && stale == 0; attempt++ {
		got := pausedLeaderRead(t, fc, rec, attempt%3, attempt)
		if got == lin.SetValue(int64(2*attempt+1)) {
			stale++
		}
		t.Logf("attempt %d: the thawed leader answered %s", attempt, got)
		fc.waitHealthy(60 * time.Second)
	}
	if stale == 0 {
		t.Fatal("a lease of 60s never served a stale read in 10 attempts: the scenario tests nothing")
	}
	v := lin.Check(rec.Ops(), time.Minute)
	if v.Result != porcupine.Illegal {
		t.Fatalf("the checker missed %d stale reads: %v", stale, v)
	}
	t.Logf("wrong lease: %d stale reads; checker: %v", stale, v)
}
