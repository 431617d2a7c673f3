package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// BenchmarkServerGet sends GETs of 100-byte values through a real server
// over a fake backend of three shards, as redis-benchmark -t get does:
// -P 1 (one command per round trip) and -P 16. The client side allocates
// nothing, so allocs/op are the server's per round trip; the allocs/command
// metric divides them by the pipeline's depth.
func BenchmarkServerGet(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run("P"+strconv.Itoa(depth), func(b *testing.B) {
			s := New(Config{Addr: "127.0.0.1:0"}, newFakeBackend(3), zap.NewNop())
			serveInTest(b, s)
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			value := strings.Repeat("x", 100)
			var sets, gets, want bytes.Buffer
			for i := 0; i < depth; i++ {
				k := fmt.Sprintf("key:%012d", i*7919)
				sets.WriteString(mbulk("SET", k, value))
				gets.WriteString(mbulk("GET", k))
				want.WriteString("$100\r\n" + value + "\r\n")
			}
			reply := make([]byte, max(want.Len(), 5*depth))
			roundTrip := func(req []byte, n int) {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, reply[:n]); err != nil {
					b.Fatal(err)
				}
			}
			roundTrip(sets.Bytes(), 5*depth)
			roundTrip(gets.Bytes(), want.Len()) // warm up the connection's buffers
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				roundTrip(gets.Bytes(), want.Len())
			}
			runtime.ReadMemStats(&after)
			if !bytes.Equal(reply[:want.Len()], want.Bytes()) {
				b.Fatalf("GET replies differ: %q", reply[:min(100, want.Len())])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/command")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*depth), "allocs/command")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N*depth), "B/command")
		})
	}
}
