package lin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// h builds a history from compact rows: client, call, return (ms; a
// negative return is an unknown outcome), input, output.
type row struct {
	client    int
	call, ret int
	in        Input
	out       Output
}

func history(rows ...row) []Op {
	ops := make([]Op, len(rows))
	for i, r := range rows {
		ops[i] = Op{Client: r.client, Input: r.in, Output: r.out,
			Call: time.Duration(r.call) * time.Millisecond, Return: time.Duration(r.ret) * time.Millisecond}
		if r.ret < 0 {
			ops[i].Output = Output{Unknown: true}
			ops[i].Return = ops[i].Call
		}
	}
	return ops
}

func set(k, v string) Input      { return Input{Kind: Set, Key: k, Value: v} }
func get(k string) Input         { return Input{Kind: Get, Key: k} }
func incr(k string) Input        { return Input{Kind: Incr, Key: k} }
func del(k string) Input         { return Input{Kind: Del, Key: k} }
func expire(k string) Input      { return Input{Kind: Expire, Key: k, TTL: 86400} }
func hset(k, f, v string) Input  { return Input{Kind: HSet, Key: k, Field: f, Value: v} }
func hget(k, f string) Input     { return Input{Kind: HGet, Key: k, Field: f} }
func str(s string) Output        { return Output{Str: s} }
func num(n int64) Output         { return Output{Int: n} }
func errOut(class string) Output { return Output{Err: class} }
func none() Output               { return Output{Nil: true} }
func ok() Output                 { return Output{Str: "OK"} }
func unknown() Output            { return Output{Unknown: true} }
func check(ops []Op) porcupine.CheckResult {
	return Check(ops, 30*time.Second).Result
}

func TestModelAcceptsLinearizableHistories(t *testing.T) {
	a, b := SetValue(1), SetValue(2)
	cases := map[string][]Op{
		"sequential": history(
			row{0, 0, 10, set("k", a), ok()},
			row{0, 20, 30, get("k"), str(a)},
			row{0, 40, 50, incr("k"), num(Stride + 1)},
			row{0, 60, 70, expire("k"), num(1)},
			row{0, 80, 90, del("k"), num(1)},
			row{0, 100, 110, del("k"), num(0)},
			row{0, 120, 130, expire("k"), num(0)},
			row{0, 140, 150, get("k"), none()},
			row{0, 160, 170, incr("k"), num(1)},
		),
		"concurrent writes, reads in either order": history(
			row{0, 0, 50, set("k", a), ok()},
			row{1, 0, 50, set("k", b), ok()},
			row{2, 10, 20, get("k"), str(b)},
			row{3, 30, 40, get("k"), str(a)},
			row{2, 60, 70, get("k"), str(a)},
		),
		"unknown write applied later": history(
			row{0, 0, -1, set("k", a), unknown()},
			row{1, 10, 20, get("k"), none()},
			row{1, 30, 40, get("k"), str(a)},
		),
		"unknown write never applied": history(
			row{0, 0, -1, set("k", a), unknown()},
			row{1, 10, 20, get("k"), none()},
			row{1, 1000, 1010, get("k"), none()},
		),
		"unknown incr applied": history(
			row{0, 0, 10, set("k", a), ok()},
			row{0, 20, -1, incr("k"), unknown()},
			row{1, 30, 40, incr("k"), num(Stride + 2)},
		),
		"hash fields": history(
			row{0, 0, 10, hset("h", "f0", "h1"), num(1)},
			row{0, 20, 30, hset("h", "f0", "h2"), num(0)},
			row{0, 40, 50, hset("h", "f1", "h3"), num(1)},
			row{1, 60, 70, hget("h", "f0"), str("h2")},
			row{1, 80, 90, hget("h", "f2"), none()},
			row{1, 100, 110, get("h"), errOut(ErrWrongType)},
			row{1, 120, 130, incr("h"), errOut(ErrWrongType)},
			row{1, 140, 150, hget("nohash", "f0"), none()},
		),
		"incr of a non-integer": history(
			row{0, 0, 10, set("k", "abc"), ok()},
			row{0, 20, 30, incr("k"), errOut(ErrNotInteger)},
			row{0, 40, 50, set("k", "007"), ok()},
			row{0, 60, 70, incr("k"), errOut(ErrNotInteger)},
		),
		"unknown expire changes nothing": history(
			row{0, 0, 10, set("k", a), ok()},
			row{0, 20, -1, expire("k"), unknown()},
			row{1, 30, 40, get("k"), str(a)},
		),
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Check(ops, 30*time.Second); got.Result != porcupine.Ok {
				t.Fatalf("Check = %v", got)
			}
		})
	}
}

// TestCheckerCatchesViolations feeds the checker histories a broken
// store would produce; each must be reported.
func TestCheckerCatchesViolations(t *testing.T) {
	a, b := SetValue(1), SetValue(2)
	cases := map[string][]Op{
		// A read that began after a newer write was acknowledged returns
		// the value it overwrote: a deposed leader serving a read.
		"stale read": history(
			row{0, 0, 10, set("k", a), ok()},
			row{1, 20, 30, set("k", b), ok()},
			row{2, 40, 50, get("k"), str(a)},
		),
		// An acknowledged write missing from the final read.
		"lost acknowledged write": history(
			row{0, 0, 10, set("k", a), ok()},
			row{1, 1000, 1010, get("k"), none()},
		),
		// A value no write (acknowledged or open) carried: a write that
		// got a definite error (MOVED, CLUSTERDOWN) and was applied.
		"refused write applied": history(
			row{0, 0, 10, set("k", a), ok()},
			row{1, 20, 30, get("k"), str(b)},
		),
		// An unknown write read, then unread: it cannot be undone.
		"unknown write flickers": history(
			row{0, 0, -1, set("k", a), unknown()},
			row{1, 10, 20, get("k"), str(a)},
			row{1, 30, 40, get("k"), none()},
		),
		// An increment counted twice (a client that retried an INCR
		// after a lost connection without saying so).
		"incr applied twice": history(
			row{0, 0, 10, incr("k"), num(1)},
			row{0, 20, 30, incr("k"), num(2)},
			row{1, 40, 50, get("k"), str("3")},
		),
		"expire of a missing key": history(
			row{0, 0, 10, del("k"), num(0)},
			row{0, 20, 30, expire("k"), num(1)},
		),
		"hset says new for an existing field": history(
			row{0, 0, 10, hset("h", "f", "h1"), num(1)},
			row{0, 20, 30, hset("h", "f", "h2"), num(1)},
		),
		"violation on one key among many": append(history(
			row{0, 0, 10, set("x", a), ok()},
			row{1, 20, 30, get("x"), str(a)},
			row{0, 0, 10, set("k", a), ok()},
			row{1, 20, 30, set("k", b), ok()},
		), history(row{2, 40, 50, get("k"), str(a)})...),
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			v := Check(ops, 30*time.Second)
			if v.Result != porcupine.Illegal {
				t.Fatalf("Check = %v, want Illegal", v)
			}
			t.Logf("caught: %v", v)
		})
	}
}

func TestFailedWritesSeen(t *testing.T) {
	r := NewRecorder()
	in := set("k", SetValue(7))
	r.Failed(in)
	r.Failed(set("other", SetValue(8)))
	r.Add(Op{Input: get("k"), Output: str(SetValue(6))})
	if seen := r.FailedWritesSeen(); len(seen) != 0 {
		t.Fatalf("FailedWritesSeen = %v", seen)
	}
	r.Add(Op{Input: incr("k"), Output: num(7*Stride + 3)})
	if seen := r.FailedWritesSeen(); len(seen) != 1 || !strings.Contains(seen[0], "SET k 7000000") {
		t.Fatalf("FailedWritesSeen = %v", seen)
	}
	if s := r.Stats(); s.Ops != 2 || s.OK != 2 || s.Failed != 2 {
		t.Fatalf("Stats = %+v", s)
	}
}

// TestVisualize writes the visualization of a violation, with a fault
// annotation.
func TestVisualize(t *testing.T) {
	a, b := SetValue(1), SetValue(2)
	ops := history(
		row{0, 0, 10, set("k", a), ok()},
		row{1, 20, 30, set("k", b), ok()},
		row{2, 40, 50, get("k"), str(a)},
	)
	path := filepath.Join(t.TempDir(), "violation.html")
	if err := Visualize(ops, []string{"k"}, []Annotation{{Tag: "faults", Start: 15 * time.Millisecond,
		End: 35 * time.Millisecond, Description: "kill n1"}}, path); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(html), "kill n1") || !strings.Contains(string(html), "SET k 2000000") {
		t.Fatalf("visualization (%d bytes): %v", len(html), err)
	}
}

// TestClassify asks a scripted RESP server for each error a workload can
// meet and checks what Classify makes of it.
func TestClassify(t *testing.T) {
	replies := map[string]string{
		"moved":     "-MOVED 3999 127.0.0.1:6381",
		"tryagain":  "-TRYAGAIN Multiple keys request during rehashing of slot",
		"down":      "-CLUSTERDOWN The cluster is down",
		"unknown":   "-ERR write outcome unknown: leadership changed before the write was committed; it may or may not have been applied",
		"wrongtype": "-WRONGTYPE Operation against a key holding the wrong kind of value",
		"notint":    "-ERR value is not an integer or out of range",
		"other":     "-ERR shard 2: forwarded to 127.0.0.1:39185: no shard 2",
		"nil":       "$-1",
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					var args []string
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					var n int
					if _, err := fmt.Sscan(strings.TrimSpace(line[1:]), &n); err != nil {
						return
					}
					for range n {
						if _, err := r.ReadString('\n'); err != nil {
							return
						}
						a, err := r.ReadString('\n')
						if err != nil {
							return
						}
						args = append(args, strings.TrimRight(a, "\r\n"))
					}
					reply, ok := replies[args[len(args)-1]]
					switch {
					case args[len(args)-1] == "hang":
						continue // never answer: the client times out
					case !ok:
						reply = "-ERR unknown command" // the client's handshake (HELLO): go-redis falls back to RESP2
					}
					if _, err := c.Write([]byte(reply + "\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	cl := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, ReadTimeout: 200 * time.Millisecond})
	defer cl.Close()
	want := map[string]Outcome{"moved": NotDone, "tryagain": NotDone, "down": NotDone, "unknown": Unknown,
		"wrongtype": Done, "notint": Done, "other": Unknown, "nil": Done, "hang": Unknown}
	for key, w := range want {
		err := cl.Get(context.Background(), key).Err()
		if got, class := Classify(err); got != w {
			t.Errorf("%s: Classify(%v) = %v (%s), want %v", key, err, got, class, w)
		}
	}
	if _, class := Classify(cl.Get(context.Background(), "other").Err()); class != "unexpected: ERR shard N: forwarded to <addr>: no shard N" {
		t.Errorf("class of an unexpected error = %q", class)
	}
	// A refused connection never carried the command.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	cl2 := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialerRetries: 1})
	defer cl2.Close()
	err = cl2.Set(context.Background(), "k", "v", 0).Err()
	if got, class := Classify(err); got != NotDone {
		t.Errorf("refused connection: Classify(%v) = %v (%s), want NotDone", err, got, class)
	}
	if got, _ := Classify(errors.New("read tcp: connection reset by peer")); got != Unknown {
		t.Errorf("reset: %v", got)
	}
}
