package resp

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// crlf joins RESP lines written one per field, for readable expectations.
func crlf(fields string) string {
	return strings.Join(strings.Fields(fields), "\r\n") + "\r\n"
}

// The expected bytes were recorded from redis-server (COMMAND INFO get in
// RESP2, COMMAND INFO mset and client|kill in RESP3); these entries are the
// same in Redis 7.0 and 7.2.
func TestInfoReplyBytes(t *testing.T) {
	tests := []struct {
		name  string
		proto int
		want  string
	}{
		{"get", RESP2, crlf(`*10 $3 get :2 *2 +readonly +fast :1 :1 :1 *3 +@read +@string +@fast *0
			*1 *6 $5 flags *2 +RO +access $12 begin_search *4 $4 type $5 index $4 spec *2 $5 index :1
			$9 find_keys *4 $4 type $5 range $4 spec *6 $7 lastkey :0 $7 keystep :1 $5 limit :0 *0`)},
		{"mset", RESP3, crlf(`*10 $4 mset :-3 ~2 +write +denyoom :1 :-1 :2 ~3 +@write +@string +@slow
			~2 $26 request_policy:multi_shard $29 response_policy:all_succeeded
			~1 %3 $5 flags ~2 +OW +update $12 begin_search %2 $4 type $5 index $4 spec %1 $5 index :1
			$9 find_keys %2 $4 type $5 range $4 spec %3 $7 lastkey :-1 $7 keystep :2 $5 limit :0 ~0`)},
		{"client|kill", RESP3, crlf(`*10 $11 client|kill :-3 ~4 +admin +noscript +loading +stale :0 :0 :0
			~4 +@admin +@slow +@dangerous +@connection ~0 ~0 ~0`)},
	}
	for _, tt := range tests {
		name, sub, _ := strings.Cut(tt.name, "|")
		c := Lookup([]byte(name))
		if sub != "" {
			c = c.LookupSub([]byte(sub))
		}
		r := c.InfoReply()
		if got := string(AppendReply(nil, &r, tt.proto)); got != tt.want {
			t.Errorf("COMMAND INFO %s in RESP%d\n got %q\nwant %q", tt.name, tt.proto, got, tt.want)
		}
	}
}

func TestInfoReplyContainer(t *testing.T) {
	r := Lookup([]byte("config")).InfoReply()
	want := crlf(`*10 $6 config :-2 ~0 :0 :0 :0 ~1 +@slow ~0 ~0 *5`)
	if got := string(AppendReply(nil, &r, RESP3)); !strings.HasPrefix(got, want) {
		t.Fatalf("COMMAND INFO config starts %.80q, want %q", got, want)
	}
	var names []string
	for _, sub := range r.Elems[9].Elems {
		names = append(names, string(sub.Elems[0].Str))
	}
	if want := []string{"config|get", "config|help", "config|resetstat", "config|rewrite", "config|set"}; !slices.Equal(names, want) {
		t.Errorf("subcommands %q, want %q", names, want)
	}
}

func TestDocsReply(t *testing.T) {
	get := Lookup([]byte("get"))
	r := get.DocsReply()
	want := "%3\r\n$7\r\nsummary\r\n$" + strconv.Itoa(len(get.Summary)) + "\r\n" + get.Summary + "\r\n" +
		crlf(`$5 since $5 1.0.0 $5 group $6 string`)
	if got := string(AppendReply(nil, &r, RESP3)); got != want {
		t.Errorf("COMMAND DOCS get\n got %q\nwant %q", got, want)
	}

	r = Lookup([]byte("getset")).DocsReply()
	if keys := mapKeys(r); !slices.Equal(keys, []string{"summary", "since", "group", "doc_flags", "deprecated_since", "replaced_by"}) {
		t.Errorf("getset docs keys %q", keys)
	}
	if r.Elems[7].Kind != KindSet || string(r.Elems[7].Elems[0].Str) != "deprecated" || r.Elems[7].Elems[0].Kind != KindSimple {
		t.Errorf("getset doc_flags %#v", r.Elems[7])
	}

	r = Lookup([]byte("object")).DocsReply()
	if keys := mapKeys(r); !slices.Equal(keys, []string{"summary", "since", "group", "subcommands"}) {
		t.Fatalf("object docs keys %q", keys)
	}
	subs := r.Elems[7]
	if subs.Kind != KindMap || !slices.Equal(mapKeys(subs), []string{"object|encoding", "object|freq", "object|help", "object|idletime", "object|refcount"}) {
		t.Errorf("object subcommands %q", mapKeys(subs))
	}
	if got := string(subs.Elems[1].Elems[5].Str); got != "generic" {
		t.Errorf("object|encoding group %q", got)
	}
}

func mapKeys(r Reply) []string {
	var out []string
	for i := 0; i < len(r.Elems); i += 2 {
		out = append(out, string(r.Elems[i].Str))
	}
	return out
}

func TestFlagNames(t *testing.T) {
	tests := []struct {
		f    Flag
		want []string
	}{
		// SAVE as Redis reports it: no_async_loading before no_multi.
		{FlagAdmin | FlagNoScript | FlagNoAsyncLoading | FlagNoMulti, []string{"admin", "noscript", "no_async_loading", "no_multi"}},
		// PUBLISH: may_replicate is hidden.
		{FlagPubSub | FlagLoading | FlagStale | FlagFast | FlagMayReplicate, []string{"pubsub", "loading", "stale", "fast"}},
		{FlagReadOnly | FlagTouchesArbitraryKeys | FlagSentinel | FlagProtected, []string{"readonly"}},
		{FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagNoMulti | FlagAllowBusy,
			[]string{"admin", "noscript", "loading", "stale", "no_multi", "allow_busy"}},
		{0, nil},
	}
	for _, tt := range tests {
		if got := tt.f.Names(); !slices.Equal(got, tt.want) {
			t.Errorf("%#x.Names() = %q, want %q", tt.f, got, tt.want)
		}
	}
	if got := (KeyRW | KeyAccess | KeyUpdate | KeyVariableFlags).Names(); !slices.Equal(got, []string{"RW", "access", "update", "variable_flags"}) {
		t.Errorf("KeyFlag.Names() = %q", got)
	}
}

func TestImpliedACL(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"get", []string{"read", "string", "fast"}},
		{"mset", []string{"write", "string", "slow"}},
		{"flushall", []string{"keyspace", "write", "slow", "dangerous"}},
		{"client", []string{"slow"}},
		{"shutdown", []string{"admin", "slow", "dangerous"}},
		{"multi", []string{"fast", "transaction"}},
	}
	for _, tt := range tests {
		if got := Lookup([]byte(tt.name)).ACL; !slices.Equal(got, tt.want) {
			t.Errorf("%s ACL %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLegacyKeyRange(t *testing.T) {
	spec := func(index, last, step int) KeySpec { return KeySpec{Index: index, LastKey: last, Step: step} }
	tests := []struct {
		name              string
		specs             []KeySpec
		first, last, step int
	}{
		{"one key", []KeySpec{spec(1, 0, 1)}, 1, 1, 1},
		{"all keys", []KeySpec{spec(1, -1, 1)}, 1, -1, 1},
		{"pairs", []KeySpec{spec(1, -1, 2)}, 1, -1, 2},
		{"two of them", []KeySpec{spec(1, 1, 1)}, 1, 2, 1},
		{"subcommand key", []KeySpec{spec(2, 0, 1)}, 2, 2, 1},
		{"rename", []KeySpec{spec(1, 0, 1), spec(2, 0, 1)}, 1, 2, 1},
		{"then the rest", []KeySpec{spec(1, 0, 1), spec(2, -1, 1)}, 1, -1, 1},
		{"gap skipped", []KeySpec{spec(1, 0, 1), spec(3, 0, 1)}, 1, 1, 1},
		{"step 2 skipped", []KeySpec{spec(1, 0, 1), spec(2, -1, 2)}, 1, 1, 1},
		{"nothing usable", []KeySpec{spec(1, -1, 2), spec(5, 0, 2)}, 0, 0, 0},
	}
	for _, tt := range tests {
		first, last, step := legacyKeyRange(tt.specs)
		if first != tt.first || last != tt.last || step != tt.step {
			t.Errorf("%s: %d,%d,%d; want %d,%d,%d", tt.name, first, last, step, tt.first, tt.last, tt.step)
		}
	}
}

func TestKeyPositions(t *testing.T) {
	tests := []struct {
		cmd  string
		argc int
		want []int
	}{
		{"get", 2, []int{1}},
		{"set", 5, []int{1}},
		{"mset", 5, []int{1, 3}},
		{"del", 4, []int{1, 2, 3}},
		{"exists", 2, []int{1}},
		{"lcs", 5, []int{1, 2}},
		{"rename", 3, []int{1, 2}},
		{"copy", 5, []int{1, 2}},
		{"hset", 6, []int{1}},
		{"ping", 2, nil},
		{"wait", 3, nil},
	}
	for _, tt := range tests {
		if got := Lookup([]byte(tt.cmd)).KeyPositions(nil, tt.argc); !slices.Equal(got, tt.want) {
			t.Errorf("%s with %d args: keys at %v, want %v", tt.cmd, tt.argc, got, tt.want)
		}
	}
	usage := Lookup([]byte("memory")).LookupSub([]byte("USAGE"))
	if got := usage.KeyPositions(nil, 5); !slices.Equal(got, []int{2}) {
		t.Errorf("memory usage: keys at %v", got)
	}
}

func TestLookup(t *testing.T) {
	if c := Lookup([]byte("GeT")); c == nil || c.Name != "get" {
		t.Errorf("Lookup(GeT) = %v", c)
	}
	if c := Lookup([]byte(strings.Repeat("x", 40))); c != nil {
		t.Errorf("a long unknown name found %v", c.Name)
	}
	if c := Lookup([]byte("nosuch")); c != nil {
		t.Errorf("Lookup(nosuch) = %v", c.Name)
	}
	client := Lookup([]byte("client"))
	if sub := client.LookupSub([]byte("NO-EVICT")); sub == nil || sub.FullName != "client|no-evict" {
		t.Errorf("LookupSub(NO-EVICT) = %v", sub)
	}
	if sub := Lookup([]byte("get")).LookupSub([]byte("x")); sub != nil {
		t.Errorf("get has a subcommand %v", sub.Name)
	}
	b := []byte("HINCRBYFLOAT")
	if n := testing.AllocsPerRun(100, func() { Lookup(b) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

func TestCheckArity(t *testing.T) {
	get, set := Lookup([]byte("get")), Lookup([]byte("set"))
	for argc, want := range map[int]bool{1: false, 2: true, 3: false} {
		if got := get.CheckArity(argc); got != want {
			t.Errorf("get.CheckArity(%d) = %v", argc, got)
		}
	}
	for argc, want := range map[int]bool{2: false, 3: true, 9: true} {
		if got := set.CheckArity(argc); got != want {
			t.Errorf("set.CheckArity(%d) = %v", argc, got)
		}
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering get twice did not panic")
		}
	}()
	Register(&Command{Name: "get", Arity: 2})
}
