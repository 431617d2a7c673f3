package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tidwall/redcon"
	"go.uber.org/zap"
)

// attacks are what the flood's connections do, each on a connection of
// its own; every one ends within a bounded time.
var attacks = []struct {
	name string
	run  func(c net.Conn, rng *rand.Rand)
}{
	{"bulk length overflow", func(c net.Conn, _ *rand.Rand) {
		sendAndDrain(c, "*1\r\n$9223372036854775807\r\nxx\r\n")
	}},
	{"multibulk count overflow", func(c net.Conn, _ *rand.Rand) {
		sendAndDrain(c, "*9000000000000000000\r\n")
	}},
	{"slowloris", func(c net.Conn, _ *rand.Rand) {
		_, _ = io.WriteString(c, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n")
		for i := 0; i < 20; i++ {
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}},
	{"garbage", func(c net.Conn, rng *rand.Rand) {
		b := make([]byte, 4096)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		sendAndDrain(c, string(b))
	}},
	{"pipeline without reading", func(c net.Conn, _ *rand.Rand) {
		_, _ = io.WriteString(c, strings.Repeat("GET flood:big\r\n", 500))
		time.Sleep(300 * time.Millisecond)
	}},
	{"endless inline line", func(c net.Conn, _ *rand.Rand) {
		sendAndDrain(c, strings.Repeat("A", 70000))
	}},
	{"huge claimed bulk", func(c net.Conn, _ *rand.Rand) {
		_, _ = io.WriteString(c, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n")
		_, _ = c.Write(make([]byte, 1<<20))
	}},
	{"many arguments", func(c net.Conn, _ *rand.Rand) {
		_, _ = io.WriteString(c, "*1048576\r\n"+strings.Repeat("$1\r\nx\r\n", 10000))
	}},
}

// sendAndDrain writes s, hangs up its side and reads until the server
// closes the connection.
func sendAndDrain(c net.Conn, s string) {
	go func() {
		if _, err := io.WriteString(c, s); err == nil {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	_, _ = io.Copy(io.Discard, c)
}

// TestFloodDoesNotDisturbOtherClients runs a go-redis client doing GET and
// SET while 20 connections at a time attack the server. The client must
// see no error and only correct replies. Its latency with and without the
// flood is logged, not asserted: timing depends on the machine.
func TestFloodDoesNotDisturbOtherClients(t *testing.T) {
	s, _ := startGuarded(t, Config{Limits: Limits{WriteTimeout: 200 * time.Millisecond}})
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: s.Addr().String(), MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	if err := c.Set(ctx, "flood:big", strings.Repeat("b", 256<<10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	const phase = 2 * time.Second
	quiet := measureClient(t, c, "quiet", phase)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	rounds := map[string]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				a := attacks[n%len(attacks)]
				conn, err := net.Dial("tcp", s.Addr().String())
				if err != nil {
					t.Errorf("attacker %d: %v", i, err)
					return
				}
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				a.run(conn, rng)
				conn.Close()
				mu.Lock()
				rounds[a.name]++
				mu.Unlock()
			}
		}(i)
	}
	waitUntil(t, "every attack to have run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(rounds) == len(attacks)
	})
	attacked := measureClient(t, c, "attacked", phase)
	close(stop)
	wg.Wait()
	waitUntil(t, "the attackers' connections to go", func() bool { return s.numClients() <= 1 })

	t.Logf("go-redis GET/SET latency, %v of each:", phase)
	t.Logf("  quiet:    %d ops  p50 %v  p99 %v  max %v", quiet.n, quiet.p50, quiet.p99, quiet.max)
	t.Logf("  attacked: %d ops  p50 %v  p99 %v  max %v  (p99 ratio %.2f)", attacked.n, attacked.p50, attacked.p99, attacked.max,
		float64(attacked.p99)/float64(quiet.p99))
	t.Logf("  attacks run meanwhile: %v", rounds)
}

type latencies struct {
	n             int
	p50, p99, max time.Duration
}

// measureClient runs SETs and GETs of fresh values for a while, checking
// every reply, and returns the latency percentiles.
func measureClient(t *testing.T, c *redis.Client, phase string, length time.Duration) latencies {
	t.Helper()
	ctx := context.Background()
	var d []time.Duration
	for i, end := 0, time.Now().Add(length); time.Now().Before(end); i++ {
		key := fmt.Sprintf("flood:%s:%d", phase, i)
		val := fmt.Sprintf("value-%d-%s", i, phase)
		start := time.Now()
		if err := c.Set(ctx, key, val, 0).Err(); err != nil {
			t.Fatalf("%s: SET: %v", phase, err)
		}
		d = append(d, time.Since(start))
		start = time.Now()
		got, err := c.Get(ctx, key).Result()
		d = append(d, time.Since(start))
		if err != nil || got != val {
			t.Fatalf("%s: GET %s = %q, %v; want %q", phase, key, got, err, val)
		}
	}
	slices.Sort(d)
	return latencies{n: len(d), p50: d[len(d)/2], p99: d[len(d)*99/100], max: d[len(d)-1]}
}

// BenchmarkFramer measures the framer alone on pipelined requests.
func BenchmarkFramer(b *testing.B) {
	var multibulk, inline bytes.Buffer
	for i := 0; i < 100; i++ {
		k, v := fmt.Sprintf("key:%06d", i), fmt.Sprintf("value-%06d-%s", i, strings.Repeat("x", 40))
		multibulk.WriteString(mbulk("SET", k, v))
		inline.WriteString("SET " + k + " " + v + "\r\n")
	}
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"multibulk", multibulk.Bytes()}, {"inline", inline.Bytes()}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFramer(Limits{}.withDefaults())
			var cmds []redcon.Command
			var argv [][]byte
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				in := bc.in
				for len(in) > 0 {
					in = in[f.feed(in):]
					cmds, argv = f.requests(cmds[:0], argv)
					f.consume()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/command")
		})
	}
}

// BenchmarkServerPipeline pipelines 100 SETs or GETs per round trip
// through a real server. Allocations count the whole process, client
// included.
func BenchmarkServerPipeline(b *testing.B) {
	var sets, gets, want bytes.Buffer
	for i := 0; i < 100; i++ {
		k, v := fmt.Sprintf("key:%06d", i), fmt.Sprintf("value-%06d-%s", i, strings.Repeat("x", 40))
		sets.WriteString(mbulk("SET", k, v))
		gets.WriteString(mbulk("GET", k))
		want.WriteString(fmt.Sprintf("$%d\r\n%s\r\n", len(v), v))
	}
	s := New(Config{Addr: "127.0.0.1:0"}, newFakeBackend(3), zap.NewNop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s.ln = newGuardListener(ln, s)
	serveListening(b, s)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	reply := make([]byte, want.Len())
	roundTrip := func(req []byte, n int) {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, reply[:n]); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip(sets.Bytes(), 5*100)
	b.ReportAllocs()
	b.SetBytes(int64(sets.Len() + gets.Len()))
	for b.Loop() {
		roundTrip(sets.Bytes(), 5*100)
		roundTrip(gets.Bytes(), want.Len())
	}
	if !bytes.Equal(reply, want.Bytes()) {
		b.Fatalf("GET replies differ: %q", reply[:100])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*200), "ns/command")
}
