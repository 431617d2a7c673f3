package store

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/resp"
)

// allScenarios lists every scenario table of the package, for
// TestScenariosAgainstRedis.
func allScenarios() map[string][]scenario {
	return map[string][]scenario{
		"get": getCases, "set expiry": setExpiryCases, "set expiry errors": setExpiryErrorCases(),
		"set grammar": setGrammarCases(), "set conditions": setConditionCases, "set get": setGetCases,
		"incr": incrCases, "del": delCases, "expire errors": expireErrCases(), "expire": expireCases,
		"ttl": ttlCases, "persist": persistCases, "dbsize flush": dbsizeFlushCases, "hash": hashCases,
	}
}

// TestScenariosAgainstRedis replays the scenario tables against a real
// Redis, to check that the expected replies are Redis's. It runs only when
// RAFTCACHE_TEST_REDIS names a disposable server (it runs FLUSHALL), for
// example:
//
//	redis-server --port 7788 --save '' --appendonly no --daemonize yes
//	RAFTCACHE_TEST_REDIS=127.0.0.1:7788 go test -run AgainstRedis ./store/
//
// Redis's clock cannot be set, so only scenarios that run at a single time
// and use no absolute expiry time (nor a relative one that overflows by
// the clock) are replayed, and PTTL is compared with a tolerance.
func TestScenariosAgainstRedis(t *testing.T) {
	addr := os.Getenv("RAFTCACHE_TEST_REDIS")
	if addr == "" {
		t.Skip("RAFTCACHE_TEST_REDIS not set")
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &redisConn{w: conn, r: bufio.NewReader(conn)}
	replayed := 0
	for table, cases := range allScenarios() {
		for _, sc := range cases {
			if !replayable(sc) {
				continue
			}
			replayed++
			if r := c.do(argv("FLUSHALL")); !replyEqual(r, ok) {
				t.Fatalf("FLUSHALL: %s", fmtReply(r))
			}
			for i, st := range sc.steps {
				got := c.do(st.args())
				if !redisMatches(got, st.want, st.args()) {
					t.Errorf("%s/%s step %d %q: Redis says %s, the table says %s",
						table, sc.name, i, st.args(), fmtReply(got), fmtReply(st.want))
					break
				}
			}
		}
	}
	t.Logf("replayed %d scenarios", replayed)
}

func replayable(sc scenario) bool {
	for _, st := range sc.steps {
		if st.now != sc.steps[0].now {
			return false
		}
		for _, a := range st.args() {
			// A relative time near the overflow boundary succeeds or fails
			// by the clock; errors at these sizes do not depend on it.
			if v, err := strconv.ParseInt(string(a), 10, 64); err == nil && v > 1e15 && !st.want.IsError() {
				return false
			}
			for _, w := range []string{"exat", "pxat", "expireat", "pexpireat", CmdDropExpired} {
				if strings.EqualFold(string(a), w) {
					return false
				}
			}
		}
	}
	return true
}

func redisMatches(got, want resp.Reply, args [][]byte) bool {
	if want.Kind == resp.KindMap && got.Kind == resp.KindArray {
		got.Kind = resp.KindMap // RESP2 sends a map as a flat array
	}
	if strings.EqualFold(string(args[0]), "pttl") && want.Kind == resp.KindInt && want.Int > 0 {
		return got.Kind == resp.KindInt && got.Int <= want.Int && got.Int > want.Int-100
	}
	return replyEqual(got, want)
}

// redisConn is just enough of a RESP2 client for the replay.
type redisConn struct {
	w io.Writer
	r *bufio.Reader
}

func (c *redisConn) do(args [][]byte) resp.Reply {
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.w.Write(b); err != nil {
		panic(err)
	}
	return c.read()
}

func (c *redisConn) read() resp.Reply {
	line, err := c.r.ReadString('\n')
	if err != nil {
		panic(err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	body := line[1:]
	switch line[0] {
	case '+':
		return resp.Simple(body)
	case '-':
		return resp.NewError(body).Reply()
	case ':':
		v, _ := strconv.ParseInt(body, 10, 64)
		return resp.Int(v)
	case '$':
		size, _ := strconv.Atoi(body)
		if size < 0 {
			return resp.Null
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			panic(err)
		}
		return resp.Bulk(buf[:size])
	case '*':
		size, _ := strconv.Atoi(body)
		if size < 0 {
			return resp.NullArr
		}
		elems := make([]resp.Reply, size)
		for i := range elems {
			elems[i] = c.read()
		}
		return resp.Reply{Kind: resp.KindArray, Elems: elems}
	}
	panic("unexpected reply " + line)
}
