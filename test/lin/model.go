package lin

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Kind is the command an operation sends.
type Kind uint8

// The commands the model knows.
const (
	Get Kind = iota
	Set
	Incr
	Del
	Expire
	HSet
	HGet
)

var kindNames = [...]string{Get: "GET", Set: "SET", Incr: "INCR", Del: "DEL", Expire: "EXPIRE", HSet: "HSET", HGet: "HGET"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// IsWrite reports whether the command may change the keyspace. EXPIRE
// counts as a write (it is one to Redis) though the model gives it no
// effect; see Model.
func (k Kind) IsWrite() bool { return k != Get && k != HGet }

// Input is one operation's request: the command, its key, and for HSET
// and HGET the field; Value is what SET or HSET writes, TTL the seconds
// EXPIRE gives.
type Input struct {
	Kind  Kind
	Key   string
	Field string
	Value string
	TTL   int64
}

// Args returns the command as it goes on the wire.
func (in Input) Args() []any {
	switch in.Kind {
	case Set:
		return []any{"SET", in.Key, in.Value}
	case Expire:
		return []any{"EXPIRE", in.Key, in.TTL}
	case HSet:
		return []any{"HSET", in.Key, in.Field, in.Value}
	case HGet:
		return []any{"HGET", in.Key, in.Field}
	}
	return []any{in.Kind.String(), in.Key}
}

func (in Input) String() string {
	var b strings.Builder
	for i, a := range in.Args() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, a)
	}
	return b.String()
}

// Error classes a command may answer and still have run: the model
// predicts them.
const (
	ErrWrongType  = "WRONGTYPE"
	ErrNotInteger = "ERR value is not an integer or out of range"
)

// Output is one operation's reply. Unknown: the outcome is unknown, the
// operation may or may not have taken effect and its reply says nothing.
// Nil: GET or HGET found nothing. Str: GET's or HGET's value, SET's "OK".
// Int: the integer reply of INCR, DEL, EXPIRE and HSET. Err: an error
// reply from a command that ran (ErrWrongType, ErrNotInteger).
type Output struct {
	Unknown bool
	Nil     bool
	Str     string
	Int     int64
	Err     string
}

func (o Output) String() string {
	switch {
	case o.Unknown:
		return "?"
	case o.Err != "":
		return "(error) " + o.Err
	case o.Nil:
		return "(nil)"
	case o.Str != "":
		return strconv.Quote(o.Str)
	}
	return strconv.FormatInt(o.Int, 10)
}

// State is one key's value in the model. Type is 0 (no key), 's' (a
// string, in Str) or 'h' (a hash, encoded by Hash in Str so that State
// stays comparable with ==).
type State struct {
	Type byte
	Str  string
}

func (s State) String() string {
	switch s.Type {
	case 's':
		return strconv.Quote(s.Str)
	case 'h':
		var parts []string
		for _, p := range hashPairs(s.Str) {
			parts = append(parts, p[0]+"="+strconv.Quote(p[1]))
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return "(none)"
}

// hashPairs decodes a hash: pairs separated by \x01, field and value by
// \x00, sorted by field.
func hashPairs(enc string) [][2]string {
	if enc == "" {
		return nil
	}
	var out [][2]string
	for _, p := range strings.Split(enc, "\x01") {
		f, v, _ := strings.Cut(p, "\x00")
		out = append(out, [2]string{f, v})
	}
	return out
}

func hashEncode(pairs [][2]string) string {
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p[0] + "\x00" + p[1]
	}
	return strings.Join(parts, "\x01")
}

// hashGet returns a field of an encoded hash.
func hashGet(enc, field string) (string, bool) {
	for _, p := range hashPairs(enc) {
		if p[0] == field {
			return p[1], true
		}
	}
	return "", false
}

// hashSet sets a field of an encoded hash and says whether it is new.
func hashSet(enc, field, value string) (string, bool) {
	pairs := hashPairs(enc)
	for i, p := range pairs {
		if p[0] == field {
			pairs[i][1] = value
			return hashEncode(pairs), false
		}
	}
	return hashEncode(append(pairs, [2]string{field, value})), true
}

// step applies in to s as Redis would and returns the reply Redis would
// give and the new state.
func step(s State, in Input) (Output, State) {
	switch in.Kind {
	case Get:
		switch s.Type {
		case 0:
			return Output{Nil: true}, s
		case 's':
			return Output{Str: s.Str}, s
		}
		return Output{Err: ErrWrongType}, s
	case Set:
		return Output{Str: "OK"}, State{Type: 's', Str: in.Value}
	case Incr:
		switch s.Type {
		case 0:
			return Output{Int: 1}, State{Type: 's', Str: "1"}
		case 's':
			n, ok := parseInt(s.Str)
			if !ok || n == math.MaxInt64 {
				return Output{Err: ErrNotInteger}, s
			}
			return Output{Int: n + 1}, State{Type: 's', Str: strconv.FormatInt(n+1, 10)}
		}
		return Output{Err: ErrWrongType}, s
	case Del:
		if s.Type == 0 {
			return Output{Int: 0}, s
		}
		return Output{Int: 1}, State{}
	case Expire:
		// The workload's TTLs outlast the run: EXPIRE tells whether the
		// key exists and changes nothing the run can see.
		if s.Type == 0 {
			return Output{Int: 0}, s
		}
		return Output{Int: 1}, s
	case HSet:
		switch s.Type {
		case 0:
			enc, _ := hashSet("", in.Field, in.Value)
			return Output{Int: 1}, State{Type: 'h', Str: enc}
		case 'h':
			enc, added := hashSet(s.Str, in.Field, in.Value)
			if added {
				return Output{Int: 1}, State{Type: 'h', Str: enc}
			}
			return Output{Int: 0}, State{Type: 'h', Str: enc}
		}
		return Output{Err: ErrWrongType}, s
	case HGet:
		switch s.Type {
		case 0:
			return Output{Nil: true}, s
		case 'h':
			if v, ok := hashGet(s.Str, in.Field); ok {
				return Output{Str: v}, s
			}
			return Output{Nil: true}, s
		}
		return Output{Err: ErrWrongType}, s
	}
	panic(fmt.Sprintf("lin: unknown command %v", in.Kind))
}

// Model is the porcupine model of one Redis key under the commands of
// Kind, partitioned by key. An operation with an unknown outcome takes
// effect with any reply; a definite error reply must be the one the
// model predicts.
//
// Time-dependent behaviour is left out on purpose: the workload's EXPIRE
// gives a TTL far longer than any run, so a key never expires during a
// history and EXPIRE only reports whether the key exists. (SET without
// KEEPTTL clears a TTL and INCR keeps it, which the model need not track
// for the same reason.)
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		slices.Sort(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return State{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in, out := input.(Input), output.(Output)
		want, next := step(state.(State), in)
		if out.Unknown {
			return true, next
		}
		return want == out, next
	},
	DescribeOperation: func(input, output interface{}) string {
		return input.(Input).String() + " → " + output.(Output).String()
	},
	DescribeState: func(state interface{}) string { return state.(State).String() },
	DescribeOperationMetadata: func(info interface{}) string {
		if info == nil {
			return ""
		}
		return fmt.Sprint(info)
	},
}
