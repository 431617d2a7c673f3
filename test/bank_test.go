package test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/test/lin"
)

// The bank: accounts spread over every shard, moved between by
// cross-shard transactions (WATCH, MULTI, EXEC) on plain connections, and
// a token renamed from shard to shard. Whatever happens to the nodes,
// every read that succeeds must see the total unchanged and exactly one
// token.
const (
	bankAccounts = 8
	bankInitial  = 100
	bankAttempts = 8 // tries of one operation while it certainly did not run
	bankMaxOps   = 100_000
	bankToken    = "token"
)

// xtxCrashEnv makes the raftcache process that coordinates its n-th
// cross-shard transaction SIGKILL itself at a step: "<step>:<n>".
const xtxCrashEnv = "RAFTCACHE_XTX_CRASH"

// bankDuration is how long the faults go on: RAFTCACHE_FAULT_DURATION,
// else 25s.
func bankDuration(t testing.TB) time.Duration {
	if os.Getenv(envDuration) != "" {
		return faultDuration(t)
	}
	return 25 * time.Second
}

// bank names the accounts (account i in shard i mod shards) and the
// token's names (one per shard).
type bank struct {
	shards   int
	accounts []string
	tokens   []string
}

func newBank(c *testCluster, tag string) *bank {
	b := &bank{shards: c.shards}
	for i := range bankAccounts {
		b.accounts = append(b.accounts, c.keyInShard(i%c.shards, fmt.Sprintf("%s:acct%d", tag, i)))
	}
	for s := range c.shards {
		b.tokens = append(b.tokens, c.keyInShard(s, fmt.Sprintf("%s:token%d", tag, s)))
	}
	return b
}

// violation is an error that breaks the bank's invariant: the test fails
// on it.
type violation string

func (v violation) Error() string { return string(v) }

// retryable reports whether err says the operation did not run and may be
// sent again: a nil EXEC (a watched key changed), TRYAGAIN (a key locked
// by a cross-shard transaction), or what lin.Classify calls NotDone.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, redis.TxFailedErr) {
		return true
	}
	o, _ := lin.Classify(err)
	return o == lin.NotDone
}

// attempt runs op until it runs, or errs in a way that may have run, or
// bankAttempts tries are spent, with a short random pause between tries.
func attempt(ctx context.Context, rng *rand.Rand, op func() error) error {
	var err error
	for i := range bankAttempts {
		if err = op(); !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(5+rng.IntN(20*(i+1))) * time.Millisecond):
		}
	}
	return err
}

// transfer moves up to amount from one account to another with WATCH,
// GET, GET, MULTI, SET, SET, EXEC.
func (b *bank) transfer(ctx context.Context, c *redis.Client, from, to string, amount int) error {
	return c.Watch(ctx, func(tx *redis.Tx) error {
		fa, err := accountValue(tx.Get(ctx, from))
		if err != nil {
			return err
		}
		fb, err := accountValue(tx.Get(ctx, to))
		if err != nil {
			return err
		}
		amount = min(amount, fa)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, from, fa-amount, 0)
			p.Set(ctx, to, fb+amount, 0)
			return nil
		})
		return err
	}, from, to)
}

// accountValue reads a balance: a missing account or one that is not a
// non-negative integer is a violation.
func accountValue(cmd *redis.StringCmd) (int, error) {
	s, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return 0, violation(fmt.Sprintf("%v: the account does not exist", cmd.Args()))
	}
	if err != nil {
		return 0, err
	}
	n, perr := strconv.Atoi(s)
	if perr != nil || n < 0 {
		return 0, violation(fmt.Sprintf("%v = %q: not a balance", cmd.Args(), s))
	}
	return n, nil
}

// audit reads every account and counts the token's names in one
// transaction (MULTI, GET..., EXISTS, EXEC) and checks the invariant.
// It returns the balances.
func (b *bank) audit(ctx context.Context, c *redis.Client) ([]int, error) {
	var gets []*redis.StringCmd
	var exists *redis.IntCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, a := range b.accounts {
			gets = append(gets, p.Get(ctx, a))
		}
		exists = p.Exists(ctx, b.tokens...)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var vals []int
	sum := 0
	for _, g := range gets {
		n, err := accountValue(g)
		if err != nil {
			return nil, err
		}
		vals = append(vals, n)
		sum += n
	}
	if err := exists.Err(); err != nil {
		return nil, err
	}
	if sum != bankAccounts*bankInitial || exists.Val() != 1 {
		return vals, violation(fmt.Sprintf("an atomic read saw balances %v (sum %d, want %d) and %d of the token's names %v (want 1)",
			vals, sum, bankAccounts*bankInitial, exists.Val(), b.tokens))
	}
	return vals, nil
}

// moveToken finds the token with an audit and renames it to a name in
// another shard. A mover that raced another gets "ERR no such key".
func (b *bank) moveToken(ctx context.Context, c *redis.Client, rng *rand.Rand) error {
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, name := range b.tokens {
			p.Exists(ctx, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	at := -1
	for i, cmd := range cmds {
		if cmd.(*redis.IntCmd).Val() == 1 {
			if at >= 0 {
				return violation(fmt.Sprintf("the token exists as both %s and %s", b.tokens[at], b.tokens[i]))
			}
			at = i
		}
	}
	if at < 0 {
		return violation(fmt.Sprintf("none of the token's names %v exists", b.tokens))
	}
	to := (at + 1 + rng.IntN(len(b.tokens)-1)) % len(b.tokens)
	err = c.Rename(ctx, b.tokens[at], b.tokens[to]).Err()
	if err != nil && err.Error() == "ERR no such key" {
		return nil // another mover took it first
	}
	return err
}

// bankStats counts outcomes per operation kind and keeps the violations
// and unexpected errors.
type bankStats struct {
	mu                       sync.Mutex
	ok                       map[string]int
	unknown                  map[string]int
	gaveUp                   map[string]int
	lastErr                  map[string]string
	violations               []string // the first bankKeep of them
	unexpected               []string // the first bankKeep of them
	nViolations, nUnexpected int
}

// bankKeep bounds the violations and unexpected errors kept for the report.
const bankKeep = 50

func newBankStats() *bankStats {
	return &bankStats{ok: map[string]int{}, unknown: map[string]int{}, gaveUp: map[string]int{}, lastErr: map[string]string{}}
}

// record sorts the result of one operation of kind through node.
func (s *bankStats) record(kind, node string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v violation
	switch {
	case err == nil:
		s.ok[kind]++
		return
	case errors.As(err, &v):
		if s.nViolations++; len(s.violations) < bankKeep {
			s.violations = append(s.violations, fmt.Sprintf("%s via %s at %s: %v", kind, node, time.Now().Format(time.TimeOnly+".000"), v))
		}
	case retryable(err):
		s.gaveUp[kind]++
	default:
		if _, class := lin.Classify(err); strings.HasPrefix(class, "unexpected") {
			if s.nUnexpected++; len(s.unexpected) < bankKeep {
				s.unexpected = append(s.unexpected, fmt.Sprintf("%s via %s: %v", kind, node, err))
			}
		} else {
			s.unknown[kind]++ // a timeout or a lost connection: the outcome is unknown
		}
	}
	s.lastErr[kind] = fmt.Sprintf("%v (via %s)", err, node)
}

func (s *bankStats) okCount(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok[kind]
}

func (s *bankStats) report() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, kind := range []string{"transfer", "move", "audit"} {
		fmt.Fprintf(&b, "%s: %d done, %d unknown outcome, %d gave up (not run after %d tries); last error: %s\n",
			kind, s.ok[kind], s.unknown[kind], s.gaveUp[kind], bankAttempts, s.lastErr[kind])
	}
	fmt.Fprintf(&b, "violations %d, unexpected errors %d", s.nViolations, s.nUnexpected)
	return b.String()
}

// waitProgress waits until every kind of operation has succeeded more
// often than in base, and fails with the last errors otherwise.
func (s *bankStats) waitProgress(t *testing.T, what string, base map[string]int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done := true
		for _, kind := range []string{"transfer", "move", "audit"} {
			done = done && s.okCount(kind) > base[kind]
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			first := s.violations[:min(len(s.violations), 5)]
			s.mu.Unlock()
			t.Fatalf("no progress of every operation %s within %v:\n%s\nfirst violations: %q", what, timeout, s.report(), first)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *bankStats) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.ok {
		out[k] = v
	}
	return out
}

// runBankWorkers starts the workers on plain clients spread over the
// nodes: transfers between accounts of different shards, token movers and
// auditors. Each worker stops after bankMaxOps operations or when ctx
// ends; the returned function waits for them.
func runBankWorkers(ctx context.Context, b *bank, clients []*redis.Client, nodes []string, seed int64, st *bankStats) func() {
	var wg sync.WaitGroup
	worker := func(i int, kind string, op func(rng *rand.Rand, c *redis.Client) error) {
		c, node := clients[i%len(clients)], nodes[i%len(nodes)]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
			for range bankMaxOps {
				if ctx.Err() != nil {
					return
				}
				st.record(kind, node, attempt(ctx, rng, func() error { return op(rng, c) }))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(5+rng.IntN(20)) * time.Millisecond):
				}
			}
		})
	}
	for i := range 4 {
		worker(i, "transfer", func(rng *rand.Rand, c *redis.Client) error {
			from := rng.IntN(bankAccounts)
			to := rng.IntN(bankAccounts)
			for to%b.shards == from%b.shards {
				to = (to + 1) % bankAccounts
			}
			return b.transfer(ctx, c, b.accounts[from], b.accounts[to], 1+rng.IntN(30))
		})
	}
	for i := 4; i < 6; i++ {
		worker(i, "move", func(rng *rand.Rand, c *redis.Client) error { return b.moveToken(ctx, c, rng) })
	}
	for i := 6; i < 8; i++ {
		worker(i, "audit", func(_ *rand.Rand, c *redis.Client) error {
			_, err := b.audit(ctx, c)
			return err
		})
	}
	return wg.Wait
}

// bankSetup writes the initial balances and the token through c.
func (b *bank) setup(t *testing.T, c *redis.Client) {
	t.Helper()
	waitFor(t, "the bank's initial balances and token", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, a := range b.accounts {
			if c.Set(ctx, a, bankInitial, 0).Err() != nil {
				return false
			}
		}
		return c.Set(ctx, b.tokens[0], bankToken, 0).Err() == nil
	})
}

// TestBankCrossShard moves money between accounts of different shards
// with WATCH/MULTI/EXEC and a token between shards with RENAME, on plain
// connections to every node, while auditors read every account and the
// token's names in one MULTI; meanwhile the nemesis kills (the workers'
// coordinators included), pauses and partitions nodes. Every successful
// audit must see the total unchanged and exactly one token; an operation
// that timed out or lost its connection may or may not have happened.
// After the faults, the same must hold through every node.
func TestBankCrossShard(t *testing.T) {
	seed := testSeed(t)
	duration := bankDuration(t)
	fc := newFaultCluster(t, 3, 3, true)
	b := newBank(fc.testCluster, "bank")
	byNode := fc.clients(5 * time.Second)
	var clients []*redis.Client
	var nodes []string
	for _, p := range fc.procs {
		clients, nodes = append(clients, byNode[p]), append(nodes, p.id)
	}
	b.setup(t, clients[0])

	st := newBankStats()
	ctx, cancel := context.WithCancel(context.Background())
	wait := runBankWorkers(ctx, b, clients, nodes, seed, st)
	stopWorkers := sync.OnceFunc(func() { cancel(); wait() })
	t.Cleanup(stopWorkers)
	st.waitProgress(t, "before the faults", nil, 30*time.Second)

	// n1 coordinates the transactions of the workers it serves: kill it
	// first, then let the nemesis choose.
	killCoordinator := fault{name: "kill-coordinator", run: func(n *nemesis) string {
		p := n.fc.procs[0]
		n.fc.stop(p, syscall.SIGKILL)
		d := n.hold(time.Second, 3*time.Second)
		n.fc.start(p)
		return fmt.Sprintf("SIGKILL %s (the coordinator of its clients' transactions) for %v, restarted", p.id, d.Round(time.Millisecond))
	}}
	t0 := time.Now()
	n := &nemesis{t: t, fc: fc, rng: rand.New(rand.NewPCG(uint64(seed), 0xba4c)),
		clock: func() time.Duration { return time.Since(t0) }, counts: map[string]int{}}
	t.Logf("fault 0: %s", killCoordinator.run(n))
	n.counts[killCoordinator.name]++
	fc.waitHealthy(90 * time.Second)
	kinds := selectFaults(t, true)
	if want := os.Getenv(envFaults); want == "" || slices.Contains(strings.Split(want, ","), killCoordinator.name) {
		kinds = append(kinds, killCoordinator)
	}
	n.run(time.Now().Add(duration), kinds)

	fc.healAll()
	fc.waitHealthy(90 * time.Second)
	st.waitProgress(t, "after the faults", st.snapshot(), 30*time.Second)
	stopWorkers()
	t.Logf("faults: %s\n%s", n.countReport(), st.report())

	// Quiet now: every node must serve the same, whole bank.
	var final []int
	for _, p := range fc.procs {
		c := byNode[p]
		var vals []int
		var last error
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			vals, last = b.audit(ctx, c)
			cancel()
			var v violation
			if last == nil || errors.As(last, &v) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if last != nil {
			t.Errorf("final audit through %s: %v", p.id, last)
			continue
		}
		if final == nil {
			final = vals
		} else if !slices.Equal(vals, final) {
			t.Errorf("final audit through %s: %v, through %s: %v", p.id, vals, fc.procs[0].id, final)
		}
		sum := 0
		for _, a := range b.accounts { // one GET at a time: nothing moves now
			n, err := accountValue(c.Get(context.Background(), a))
			if err != nil {
				t.Errorf("final GET %s through %s: %v", a, p.id, err)
			}
			sum += n
		}
		if sum != bankAccounts*bankInitial {
			t.Errorf("final balances through %s sum to %d, want %d", p.id, sum, bankAccounts*bankInitial)
		}
	}
	fc.waitConverged(fc.procs, 60*time.Second)
	fc.checkProcesses()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, v := range st.violations {
		t.Errorf("violation (seed %d): %s", seed, v)
	}
	for _, u := range st.unexpected {
		t.Errorf("unexpected error: %s", u)
	}
	if st.nViolations+st.nUnexpected > len(st.violations)+len(st.unexpected) {
		t.Errorf("%d violations and %d unexpected errors in all; the first %d of each are above",
			st.nViolations, st.nUnexpected, bankKeep)
	}
}

// xtxCrashSteps are the coordinator's crash points, and whether the
// transaction must commit when the coordinator dies there: the decision
// is recorded by the decision shard, so before it the transaction must
// abort and after it commit.
var xtxCrashSteps = []struct {
	step   string
	commit bool
}{
	{"after-prepare", false},
	{"after-decide", true},
	{"after-commit-one", true},
}

// nilValue stands for a missing key in the states compared below.
const nilValue = "(nil)"

// readAtomically reads keys in one MULTI/EXEC through c; a missing key
// reads as nilValue.
func readAtomically(ctx context.Context, c *redis.Client, keys []string) ([]string, error) {
	var gets []*redis.StringCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			gets = append(gets, p.Get(ctx, k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return values(gets)
}

// values are the GETs' values, a missing key's as nilValue.
func values(gets []*redis.StringCmd) ([]string, error) {
	var out []string
	for _, g := range gets {
		v, err := g.Result()
		switch {
		case errors.Is(err, redis.Nil):
			v = nilValue
		case err != nil:
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// waitState reads keys atomically through p until a read succeeds,
// within timeout; that read must show want (the keys of an interrupted
// cross-shard transaction are unreadable until its outcome is settled,
// and then show all of it or none of it).
func waitState(t *testing.T, p *proc, what string, keys, want []string, timeout time.Duration) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 3 * time.Second})
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		got, err := readAtomically(ctx, c, keys)
		cancel()
		if err == nil {
			if !slices.Equal(got, want) {
				t.Fatalf("%s through %s: %v = %v, want %v", what, p.id, keys, got, want)
			}
			return
		}
		last = err
		time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
	}
	t.Fatalf("%s through %s: no successful read of %v within %v; last error: %v", what, p.id, keys, timeout, last)
}

// readLocal reads keys one GET at a time on a READONLY connection: from
// the node's own replica, so the loop in waitLocal sees it converge.
func readLocal(ctx context.Context, c *redis.Client, keys []string) ([]string, error) {
	var gets []*redis.StringCmd
	for _, k := range keys {
		get := c.Get(ctx, k)
		if err := get.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		gets = append(gets, get)
	}
	return values(gets)
}

// waitLocal waits until p's own replica holds want for keys.
func waitLocal(t *testing.T, p *proc, keys, want []string, timeout time.Duration) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 3 * time.Second,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer c.Close()
	var got []string
	var last error
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		got, last = readLocal(ctx, c, keys)
		cancel()
		if last == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's replica does not hold %v = %v after %v: last read %v, %v", p.id, keys, want, timeout, got, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectCrash waits for p, armed to crash, to die after op; op's error
// is logged (the client cannot know the outcome).
func expectCrash(t *testing.T, p *proc, step, what string, err error) {
	t.Helper()
	var reply redis.Error
	if err == nil || errors.As(err, &reply) {
		t.Fatalf("%s through %s answered (%v): the coordinator did not stop %s before answering", what, p.id, err, step)
	}
	select {
	case <-p.exited():
	case <-time.After(15 * time.Second):
		t.Fatalf("%s through %s failed (%v) but %s is still running: the coordinator did not stop %s", what, p.id, err, p.id, step)
	}
	t.Logf("%s through %s: the coordinator died %s; the client got %v", what, p.id, step, err)
}

// TestBankCoordinatorCrash kills the coordinator of a cross-shard
// transaction at each step of its commit (RAFTCACHE_XTX_CRASH) and checks
// that the surviving nodes settle it all or nothing within 15 seconds:
// aborted when the coordinator died before the decision was recorded,
// committed after. Once for a WATCH/MULTI/EXEC transfer between accounts
// of two shards, once for a RENAME across shards; the coordinator, back,
// must hold the same.
func TestBankCoordinatorCrash(t *testing.T) {
	for _, tc := range xtxCrashSteps {
		t.Run(tc.step, func(t *testing.T) {
			c := newCluster(t, 3, 3)
			n1, others := c.proc("n1"), c.procs[1:]
			a, b := c.keyInShard(0, "xtx:a"), c.keyInShard(1, "xtx:b")
			src, dst := c.keyInShard(1, "xtx:src"), c.keyInShard(2, "xtx:dst")
			setup := redis.NewClient(&redis.Options{Addr: others[0].addr(), MaxRetries: -1})
			defer setup.Close()
			waitFor(t, "the initial values", 30*time.Second, func() bool {
				return setup.MSet(context.Background(), a, bankInitial, b, bankInitial, src, bankToken).Err() == nil
			})
			rearm := func(env []string) {
				n1.kill()
				n1.env = env
				n1.start()
				for _, p := range c.procs {
					waitClusterOK(t, p.addr(), 60*time.Second)
				}
			}
			armed := []string{xtxCrashEnv + "=" + tc.step + ":1"}
			rng := rand.New(rand.NewPCG(3, 4))
			ctx := context.Background()

			// A transfer of 30 from a (shard 0) to b (shard 1) through n1.
			rearm(armed)
			via := redis.NewClient(&redis.Options{Addr: n1.addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 10 * time.Second})
			defer via.Close()
			bk := &bank{shards: c.shards}
			err := attempt(ctx, rng, func() error { return bk.transfer(ctx, via, a, b, 30) })
			expectCrash(t, n1, tc.step, "MULTI/EXEC transfer", err)
			keys, want := []string{a, b}, []string{"100", "100"}
			if tc.commit {
				want = []string{"70", "130"}
			}
			for _, p := range others {
				waitState(t, p, "after the coordinator's crash "+tc.step, keys, want, 15*time.Second)
			}
			rearm(nil)
			waitLocal(t, n1, keys, want, 30*time.Second)
			waitState(t, n1, "after the coordinator's restart", keys, want, 15*time.Second)

			// A RENAME of src (shard 1) to dst (shard 2) through n1.
			rearm(armed)
			err = attempt(ctx, rng, func() error { return via.Rename(ctx, src, dst).Err() })
			expectCrash(t, n1, tc.step, "RENAME", err)
			rkeys, rwant := []string{src, dst}, []string{bankToken, nilValue}
			if tc.commit {
				rwant = []string{nilValue, bankToken}
			}
			for _, p := range others {
				waitState(t, p, "after the coordinator's crash "+tc.step, rkeys, rwant, 15*time.Second)
			}
			rearm(nil)
			all, allWant := append(keys, rkeys...), append(want, rwant...)
			waitLocal(t, n1, all, allWant, 30*time.Second)
			for _, p := range c.procs {
				waitState(t, p, "after the coordinator's restart", all, allWant, 15*time.Second)
			}

			// The coordinator also leads the decision shard (the highest
			// participant), whose log thus loses its leader at the step
			// too: n3, which the balancer makes leader of shard 2, armed,
			// coordinates a transfer between shards 1 and 2.
			n3 := c.proc("n3")
			rearmProc := func(p *proc, env []string) {
				p.kill()
				p.env = env
				p.start()
				for _, q := range c.procs {
					waitClusterOK(t, q.addr(), 60*time.Second)
				}
			}
			rearmProc(n3, armed)
			waitFor(t, "n3 to lead shard 2 (its preferred shard, handed back by the balancer)", 60*time.Second, func() bool {
				infos, ok := shardInfos(n3.addr())
				return ok && infos[2].leader == "n3"
			})
			x, y := c.keyInShard(1, "xtx:x"), c.keyInShard(2, "xtx:y")
			waitFor(t, "x and y", 30*time.Second, func() bool {
				return setup.MSet(context.Background(), x, bankInitial, y, bankInitial).Err() == nil
			})
			via3 := redis.NewClient(&redis.Options{Addr: n3.addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 10 * time.Second})
			defer via3.Close()
			err = attempt(ctx, rng, func() error { return bk.transfer(ctx, via3, x, y, 10) })
			expectCrash(t, n3, tc.step, "MULTI/EXEC transfer coordinated by the decision shard's leader", err)
			lkeys, lwant := []string{x, y}, []string{"100", "100"}
			if tc.commit {
				lwant = []string{"90", "110"}
			}
			for _, p := range c.procs[:2] {
				waitState(t, p, "after the coordinator and decision leader's crash "+tc.step, lkeys, lwant, 20*time.Second)
			}
			rearmProc(n3, nil)
			all, allWant = append(all, lkeys...), append(allWant, lwant...)
			waitLocal(t, n3, all, allWant, 30*time.Second)
			for _, p := range c.procs {
				waitState(t, p, "after the coordinator's restart", all, allWant, 15*time.Second)
			}
			c.waitConverged(c.procs, 60*time.Second)
		})
	}
}
