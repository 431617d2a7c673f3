package lin

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Stride separates the values SET writes: the n-th unique SET writes
// n*Stride, so the INCRs applied after it give n*Stride+1, n*Stride+2, ...
// and every value read names the SET it descends from (WriterOf). A run
// has far fewer than Stride INCRs.
const Stride = 1_000_000

// SetValue is the value the uniq-th SET writes.
func SetValue(uniq int64) string { return strconv.FormatInt(uniq*Stride, 10) }

// HashValue is the value the uniq-th HSET writes.
func HashValue(uniq int64) string { return "h" + strconv.FormatInt(uniq, 10) }

// WriterOf returns the unique number of the write a read value descends
// from (0: none, such as a counter INCR created).
func WriterOf(v string) int64 {
	if strings.HasPrefix(v, "h") {
		n, _ := strconv.ParseInt(v[1:], 10, 64)
		return n
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n / Stride
}

// Op is one recorded operation.
type Op struct {
	Client int
	Input  Input
	Output Output
	Call   time.Duration // since the Recorder started
	Return time.Duration // for an unknown outcome, when the client gave up
	Note   string        // shown in the visualization (node, error)
}

// Recorder collects a history. Its methods are safe for concurrent use.
type Recorder struct {
	start   time.Time
	mu      sync.Mutex
	ops     []Op
	failed  map[int64]Input // unique value → a write that got a definite error
	clients int
}

// NewRecorder starts a history now.
func NewRecorder() *Recorder {
	return &Recorder{start: time.Now(), failed: map[int64]Input{}}
}

// Now returns the time since the history started, from the monotonic
// clock.
func (r *Recorder) Now() time.Duration { return time.Since(r.start) }

// Start returns the wall-clock time the history started.
func (r *Recorder) Start() time.Time { return r.start }

// NewClient returns a fresh client number. A client takes a new one after
// an operation with an unknown outcome, which stays open to the end of
// the history, so that one client's operations never overlap.
func (r *Recorder) NewClient() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients++
	return r.clients - 1
}

// Add records an operation that completed (out.Unknown false) or whose
// outcome is unknown (out.Unknown true: it stays open until the end).
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Failed records a write that got a definite error: it did not happen,
// so the value it carried must never be read.
func (r *Recorder) Failed(in Input) {
	if in.Kind != Set && in.Kind != HSet {
		return
	}
	r.mu.Lock()
	r.failed[WriterOf(in.Value)] = in
	r.mu.Unlock()
}

// Ops returns a copy of the history so far.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// Stats counts a history's operations.
type Stats struct {
	Ops, OK, Unknown, Failed int
}

// Stats returns the counts so far.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Ops: len(r.ops), Failed: len(r.failed)}
	for _, op := range r.ops {
		if op.Output.Unknown {
			s.Unknown++
		} else {
			s.OK++
		}
	}
	return s
}

// FailedWritesSeen returns the reads that saw a value only a write with
// a definite error carried: each one a write that was refused and yet
// applied.
func (r *Recorder) FailedWritesSeen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, op := range r.ops {
		if op.Output.Unknown || op.Output.Err != "" {
			continue
		}
		var seen string
		switch op.Input.Kind {
		case Get, HGet:
			seen = op.Output.Str
		case Incr:
			seen = strconv.FormatInt(op.Output.Int, 10)
		default:
			continue
		}
		if w := WriterOf(seen); w != 0 {
			if in, ok := r.failed[w]; ok && in.Key == op.Input.Key {
				out = append(out, fmt.Sprintf("%s → %s at %v saw the value of %q, which got a definite error",
					op.Input, op.Output, op.Call, in.String()))
			}
		}
	}
	return out
}

// Verdict is the outcome of Check.
type Verdict struct {
	Result   porcupine.CheckResult // Ok, Illegal, or Unknown (the checker ran out of time)
	Illegal  []string              // keys whose histories are not linearizable
	TimedOut []string              // keys the checker could not decide in time
	Took     time.Duration
	// Passes counts keys decided by each pass: [0] with every unknown
	// outcome taken as "not applied", [1] with only unobserved unknown
	// writes so taken, [2] on the full history.
	Passes [3]int
}

func (v Verdict) String() string {
	s := fmt.Sprintf("%s in %v (keys decided by pass: all unknown dropped %d, unobserved unknown dropped %d, full %d)",
		v.Result, v.Took.Round(time.Millisecond), v.Passes[0], v.Passes[1], v.Passes[2])
	if len(v.Illegal) > 0 {
		s += fmt.Sprintf("; not linearizable: %v", v.Illegal)
	}
	if len(v.TimedOut) > 0 {
		s += fmt.Sprintf("; undecided (checker time-out): %v", v.TimedOut)
	}
	return s
}

// Operations converts a history to porcupine's form. An unknown outcome
// returns after every other event: it may take effect at any moment
// after its invocation, final reads included, or never.
func Operations(ops []Op) []porcupine.Operation {
	var end int64
	for _, op := range ops {
		end = max(end, int64(op.Call), int64(op.Return))
	}
	out := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		ret := int64(op.Return)
		if op.Output.Unknown {
			ret = end + 1
		}
		out[i] = porcupine.Operation{ClientId: op.Client, Input: op.Input, Call: int64(op.Call),
			Output: op.Output, Return: ret, Metadata: op.Note}
	}
	return out
}

// Check decides whether the history is linearizable, key by key, within
// timeout. Each key is tried first with its unknown outcomes taken as
// "never applied", then with only the unknown writes whose unique value
// no one read so taken, and last in full. Taking an open operation as
// never applied is one of the linearizations the full history allows
// (it is placed after every other operation), so an earlier pass that
// finds a linearization proves the full history linearizable; only the
// full pass can prove a violation. The cheap passes keep long histories
// with many unknown outcomes checkable.
func Check(ops []Op, timeout time.Duration) Verdict {
	start := time.Now()
	deadline := start.Add(timeout)
	byKey := map[string][]Op{}
	for _, op := range ops {
		byKey[op.Input.Key] = append(byKey[op.Input.Key], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	type result struct {
		key  string
		res  porcupine.CheckResult
		pass int
	}
	results := make(chan result, len(keys))
	work := make(chan string)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for k := range work {
				res, pass := checkKey(byKey[k], deadline)
				results <- result{k, res, pass}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(results)

	v := Verdict{Result: porcupine.Ok}
	for r := range results {
		switch r.res {
		case porcupine.Ok:
			v.Passes[r.pass]++
		case porcupine.Illegal:
			v.Illegal = append(v.Illegal, r.key)
		default:
			v.TimedOut = append(v.TimedOut, r.key)
		}
	}
	slices.Sort(v.Illegal)
	slices.Sort(v.TimedOut)
	switch {
	case len(v.Illegal) > 0:
		v.Result = porcupine.Illegal
	case len(v.TimedOut) > 0:
		v.Result = porcupine.Unknown
	}
	v.Took = time.Since(start)
	return v
}

// checkKey runs the passes of Check on one key's history.
func checkKey(ops []Op, deadline time.Time) (porcupine.CheckResult, int) {
	observed := map[int64]bool{}
	for _, op := range ops {
		if op.Output.Unknown || op.Output.Err != "" {
			continue
		}
		switch op.Input.Kind {
		case Get, HGet:
			observed[WriterOf(op.Output.Str)] = true
		case Incr:
			observed[WriterOf(strconv.FormatInt(op.Output.Int, 10))] = true
		}
	}
	passes := []func(Op) bool{
		func(op Op) bool { return !op.Output.Unknown },
		func(op Op) bool {
			if !op.Output.Unknown {
				return true
			}
			switch op.Input.Kind {
			case Set, HSet:
				return observed[WriterOf(op.Input.Value)]
			case Expire: // no effect in the model
				return false
			}
			return true
		},
		func(Op) bool { return true },
	}
	prev := -1
	for i, keep := range passes {
		var sub []Op
		for _, op := range ops {
			if keep(op) {
				sub = append(sub, op)
			}
		}
		if len(sub) == prev {
			continue // the same history as the pass before, which failed
		}
		prev = len(sub)
		left := time.Until(deadline)
		if left <= 0 {
			return porcupine.Unknown, i
		}
		res := porcupine.CheckOperationsTimeout(Model, Operations(sub), left)
		if res != porcupine.Illegal || len(sub) == len(ops) {
			return res, i
		}
	}
	return porcupine.Illegal, len(passes) - 1
}

// Annotation marks a moment or a span of a run (a fault) in the
// visualization.
type Annotation struct {
	Tag         string
	Start, End  time.Duration
	Description string
	Details     string // shown on hover
}

// Visualize writes porcupine's HTML visualization of the given keys'
// histories to path, with the annotations on their own rows.
func Visualize(ops []Op, keys []string, notes []Annotation, path string) error {
	var sub []Op
	for _, op := range ops {
		if slices.Contains(keys, op.Input.Key) {
			sub = append(sub, op)
		}
	}
	_, info := porcupine.CheckOperationsVerbose(Model, Operations(sub), time.Minute)
	var anns []porcupine.Annotation
	for _, a := range notes {
		anns = append(anns, porcupine.Annotation{Tag: a.Tag, Start: int64(a.Start), End: int64(a.End),
			Description: a.Description, Details: a.Details, BackgroundColor: "#ffd0d0"})
	}
	info.AddAnnotations(anns)
	return porcupine.VisualizePath(Model, info, path)
}
