package acl

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftcache/raftcache/resp"
)

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func mustSet(t *testing.T, us *Users, name string, rules ...string) {
	t.Helper()
	if err := us.SetUser([]byte(name), bs(rules...)); err != nil {
		t.Fatalf("SETUSER %s %q: %v", name, rules, err)
	}
}

var hashP = hashPassword([]byte("p"))

// describeCases are rule sets and the ACL LIST line Redis 7.2 prints for
// them (derived from 7.2's acl.c: ACLDescribeUser over the retained
// command rules).
var describeCases = []struct {
	rules []string
	want  string
}{
	{nil, "user bob off sanitize-payload resetchannels -@all"},
	{[]string{"on", ">p", "~*", "&*", "+@all"}, "user bob on sanitize-payload #" + hashP + " ~* &* +@all"},
	{[]string{"on", ">p", ">p", "#" + hashP}, "user bob on sanitize-payload #" + hashP + " resetchannels -@all"},
	{[]string{">p", "<p"}, "user bob off sanitize-payload resetchannels -@all"},
	{[]string{">p", "nopass", "ON"}, "user bob on nopass sanitize-payload resetchannels -@all"},
	{[]string{"nopass", ">p"}, "user bob off sanitize-payload #" + hashP + " resetchannels -@all"},
	{[]string{"skip-sanitize-payload"}, "user bob off skip-sanitize-payload resetchannels -@all"},
	{[]string{"+@all", "-@dangerous", "+flushall"}, "user bob off sanitize-payload resetchannels +@all -@dangerous +flushall"},
	{[]string{"+get", "-get"}, "user bob off sanitize-payload resetchannels -@all -get"},
	{[]string{"+GET", "+@READ", "+get"}, "user bob off sanitize-payload resetchannels -@all +@read +get"},
	{[]string{"+config|get", "+config"}, "user bob off sanitize-payload resetchannels -@all +config"},
	{[]string{"+config", "-config|set", "+Config|GET"}, "user bob off sanitize-payload resetchannels -@all +config -config|set +config|get"},
	{[]string{"+select|0", "+select|1", "+select|0"}, "user bob off sanitize-payload resetchannels -@all +select|1 +select|0"},
	{[]string{"+get", "allcommands", "-set"}, "user bob off sanitize-payload resetchannels +@all -set"},
	{[]string{"+@all", "nocommands", "+get"}, "user bob off sanitize-payload resetchannels -@all +get"},
	{[]string{"%R~foo", "%W~bar", "%RW~baz", "~foo", "%wr~qux"}, "user bob off sanitize-payload ~foo %W~bar ~baz ~qux resetchannels -@all"},
	{[]string{"~a", "allkeys"}, "user bob off sanitize-payload ~* resetchannels -@all"},
	{[]string{"~a", "resetkeys", "~b"}, "user bob off sanitize-payload ~b resetchannels -@all"},
	{[]string{"&chan", "&chan2", "&chan"}, "user bob off sanitize-payload resetchannels &chan &chan2 -@all"},
	{[]string{"&chan", "allchannels"}, "user bob off sanitize-payload &* -@all"},
	{[]string{"(~a* +get)", "(%R~b", "+@read)"}, "user bob off sanitize-payload resetchannels -@all (~a* resetchannels -@all +get) (%R~b resetchannels -@all +@read)"},
	{[]string{"(~a* +get)", "clearselectors"}, "user bob off sanitize-payload resetchannels -@all"},
	{[]string{`("~a +get)`}, "user bob off sanitize-payload resetchannels -@all (resetchannels -@all)"}, // unbalanced quotes: an empty selector, as Redis makes
	{[]string{"on", ">p", "~*", "+@all", "(~x)", "reset"}, "user bob off sanitize-payload resetchannels -@all"},
	{[]string{"", "on"}, "user bob on sanitize-payload resetchannels -@all"},
}

func TestDescribe(t *testing.T) {
	for _, c := range describeCases {
		us := New()
		mustSet(t, us, "bob", c.rules...)
		if got := us.User("bob").Line(); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.rules, got, c.want)
		}
		// The description rebuilds the user.
		us2 := New()
		mustSet(t, us2, "bob", strings.Fields(us.User("bob").Describe())...)
		if got := us2.User("bob").Line(); got != c.want {
			t.Errorf("%q rebuilt: %s", c.rules, got)
		}
	}
}

func TestDefaultUser(t *testing.T) {
	us := New()
	if got := us.List(); len(got) != 1 || got[0] != "user default on nopass sanitize-payload ~* &* +@all" {
		t.Fatalf("List = %q", got)
	}
	if us.AuthRequired() {
		t.Fatal("auth required with a nopass default user")
	}
	us.SetRequirePass([]byte("secret"))
	if got := us.List()[0]; got != "user default on sanitize-payload #"+hashPassword([]byte("secret"))+" ~* &* +@all" {
		t.Fatalf("after requirepass: %s", got)
	}
	if !us.AuthRequired() || us.Authenticate([]byte("default"), []byte("secret")) == nil ||
		us.Authenticate([]byte("default"), []byte("nope")) != nil || us.Authenticate([]byte("Default"), []byte("secret")) != nil {
		t.Fatal("requirepass does not govern the default user")
	}
	us.SetRequirePass(nil)
	if us.AuthRequired() || us.Authenticate([]byte("default"), []byte("anything")) == nil {
		t.Fatal("empty requirepass does not make default nopass")
	}
}

func TestSetUserErrors(t *testing.T) {
	const pre = "ERR Error in ACL SETUSER modifier '"
	cases := []struct {
		name  string
		rules []string
		want  string
	}{
		{"bob", []string{"+nosuch"}, pre + "+nosuch': Unknown command or category name in ACL"},
		{"bob", []string{"-nosuch"}, pre + "-nosuch': Unknown command or category name in ACL"},
		{"bob", []string{"+@nosuch"}, pre + "+@nosuch': Unknown command or category name in ACL"},
		{"bob", []string{"+"}, pre + "+': Unknown command or category name in ACL"},
		{"bob", []string{"+get|"}, pre + "+get|': Syntax error"},
		{"bob", []string{"+config|nosuch"}, pre + "+config|nosuch': Unknown command or category name in ACL"},
		{"bob", []string{"+config|get|x"}, pre + "+config|get|x': Allowing first-arg of a subcommand is not supported"},
		{"bob", []string{"-select|0"}, pre + "-select|0': Unknown command or category name in ACL"},
		{"bob", []string{"bogus"}, pre + "bogus': Syntax error"},
		{"bob", []string{"~a b"}, pre + "~a b': Syntax error"},
		{"bob", []string{"%X~a"}, pre + "%X~a': Syntax error"},
		{"bob", []string{"%RR~a"}, pre + "%RR~a': Syntax error"},
		{"bob", []string{"%~a"}, pre + "%~a': Syntax error"},
		{"bob", []string{"~*", "~a"}, pre + "~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"},
		{"bob", []string{"&*", "&a"}, pre + "&a': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"},
		{"bob", []string{"<p"}, pre + "<p': The password you are trying to remove from the user does not exist"},
		{"bob", []string{"#abc"}, pre + "#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"},
		{"bob", []string{"!" + strings.ToUpper(hashP)}, pre + "!" + strings.ToUpper(hashP) + "': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"},
		{"bob", []string{"(~a +nosuch)"}, pre + "(~a +nosuch)': Unknown command or category name in ACL"},
		{"bob", []string{"(~a", "+get"}, "ERR Unmatched parenthesis in acl selector starting at '(~a'."},
		{"bob", []string{"(>p)"}, pre + "(>p)': Syntax error"},
		{"b b", []string{"on"}, "ERR Usernames can't contain spaces or null characters"},
		{"b\x00", nil, "ERR Usernames can't contain spaces or null characters"},
	}
	for _, c := range cases {
		us := New()
		err := us.SetUser([]byte(c.name), bs(c.rules...))
		if err == nil {
			t.Errorf("%q: no error", c.rules)
			continue
		}
		if got := ErrorReply(err).String(); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.rules, got, c.want)
		}
		if us.User(c.name) != nil {
			t.Errorf("%q: a refused SETUSER created the user", c.rules)
		}
	}
	// A refused rule changes nothing of an existing user.
	us := New()
	mustSet(t, us, "bob", "on", "+get")
	before := us.User("bob").Line()
	if err := us.SetUser([]byte("bob"), bs("+set", "~a", "bogus")); err == nil || us.User("bob").Line() != before {
		t.Fatalf("partial SETUSER applied: %v %s", err, us.User("bob").Line())
	}
}

func cmdArgs(ss ...string) (*resp.Command, *resp.Command, [][]byte) {
	args := bs(ss...)
	cmd := resp.Lookup(args[0])
	var sub *resp.Command
	if cmd.Subcommands != nil && len(args) > 1 {
		sub = cmd.LookupSub(args[1])
	}
	return cmd, sub, args
}

func TestCheck(t *testing.T) {
	cases := []struct {
		rules []string
		cmd   []string
		// want is "" (allowed) or the NOPERM text, then " @pos object".
		want string
	}{
		{[]string{"on", "+get", "~foo*"}, []string{"get", "foo1"}, ""},
		{[]string{"on", "+get", "~foo*"}, []string{"GET", "bar"}, "NOPERM No permissions to access a key @1 bar"},
		{[]string{"on", "+get", "~foo*"}, []string{"set", "foo1", "v"}, "NOPERM User bob has no permissions to run the 'set' command @0 set"},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"get", "r1"}, ""},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"get", "w1"}, "NOPERM No permissions to access a key @1 w1"},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"set", "w1", "v"}, ""},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"set", "r1", "v"}, "NOPERM No permissions to access a key @1 r1"},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"set", "w1", "v", "get"}, "NOPERM No permissions to access a key @1 w1"},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"set", "w1", "v", "EX", "10"}, ""},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"incr", "w1"}, "NOPERM No permissions to access a key @1 w1"},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"del", "w1"}, ""},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"exists", "w1"}, ""}, // RO without access
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"copy", "r1", "w1"}, ""},
		{[]string{"+@all", "%R~r*", "%W~w*"}, []string{"copy", "w1", "r1"}, "NOPERM No permissions to access a key @1 w1"},
		{[]string{"+@all", "~a*"}, []string{"mset", "a1", "v", "a2", "v"}, ""},
		{[]string{"+@all", "~a*"}, []string{"mset", "a1", "v", "b", "v"}, "NOPERM No permissions to access a key @3 b"},
		{[]string{"+@all", "~a*"}, []string{"del", "a1", "b1", "c1"}, "NOPERM No permissions to access a key @2 b1"},
		{[]string{"+@all"}, []string{"keys", "*"}, ""},
		{[]string{"+select|0"}, []string{"select", "0"}, ""},
		{[]string{"+select|0"}, []string{"select", "1"}, "NOPERM User bob has no permissions to run the 'select' command @0 select"},
		{[]string{"+config|get"}, []string{"config", "get", "x"}, ""},
		{[]string{"+config|get"}, []string{"CONFIG", "SET", "x", "y"}, "NOPERM User bob has no permissions to run the 'config|set' command @0 config|set"},
		{[]string{"+config", "-config|set"}, []string{"config", "set", "x", "y"}, "NOPERM User bob has no permissions to run the 'config|set' command @0 config|set"},
		{[]string{"+config", "-config|set"}, []string{"config", "resetstat"}, ""},
		{[]string{"+@all", "-@dangerous"}, []string{"flushall"}, "NOPERM User bob has no permissions to run the 'flushall' command @0 flushall"},
		{nil, []string{"auth", "x", "y"}, ""},
		{nil, []string{"hello", "3"}, ""},
		{nil, []string{"ping"}, "NOPERM User bob has no permissions to run the 'ping' command @0 ping"},
		{[]string{"+object|encoding"}, []string{"object", "encoding", "k"}, "NOPERM No permissions to access a key @2 k"},
		{[]string{"+object|encoding", "%R~k"}, []string{"object", "encoding", "k"}, ""},
		// Selectors: the first that allows all wins; else a key beats a command.
		{[]string{"+get", "~a*", "(~b* +set)"}, []string{"get", "a1"}, ""},
		{[]string{"+get", "~a*", "(~b* +set)"}, []string{"set", "b1", "v"}, ""},
		{[]string{"+get", "~a*", "(~b* +set)"}, []string{"get", "c"}, "NOPERM No permissions to access a key @1 c"},
		{[]string{"+get", "~a*", "(~b* +set)"}, []string{"set", "c", "v"}, "NOPERM No permissions to access a key @1 c"},
		{[]string{"+get", "~a*", "(~b* +set)"}, []string{"del", "a1"}, "NOPERM User bob has no permissions to run the 'del' command @0 del"},
		{[]string{"+del", "~a*", "(~b* +del)"}, []string{"del", "a1", "b1"}, "NOPERM No permissions to access a key @2 b1"},
		{[]string{"+del", "~a*", "(~b* +del)"}, []string{"del", "b1", "a1"}, "NOPERM No permissions to access a key @2 a1"},
	}
	for _, c := range cases {
		us := New()
		mustSet(t, us, "bob", c.rules...)
		cmd, sub, args := cmdArgs(c.cmd...)
		d := us.User("bob").Check(cmd, sub, args)
		got := ""
		if d != nil {
			got = fmt.Sprintf("%s @%d %s", d.Err().Error(), d.Pos, d.Object)
		}
		if got != c.want {
			t.Errorf("%q %q:\n got %q\nwant %q", c.rules, c.cmd, got, c.want)
		}
	}
}

func TestGetUserReply(t *testing.T) {
	us := New()
	mustSet(t, us, "bob", "on", ">p", "%R~r*", "&c", "+get", "(~x +set)")
	got := string(resp.AppendReply(nil, ptr(us.GetUser([]byte("bob"))), 2))
	want := "*12\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$16\r\nsanitize-payload\r\n" +
		"$9\r\npasswords\r\n*1\r\n$64\r\n" + hashP + "\r\n" +
		"$8\r\ncommands\r\n$10\r\n-@all +get\r\n$4\r\nkeys\r\n$5\r\n%R~r*\r\n$8\r\nchannels\r\n$2\r\n&c\r\n" +
		"$9\r\nselectors\r\n*1\r\n*6\r\n$8\r\ncommands\r\n$10\r\n-@all +set\r\n$4\r\nkeys\r\n$2\r\n~x\r\n$8\r\nchannels\r\n$0\r\n\r\n"
	if got != want {
		t.Fatalf("GETUSER:\n got %q\nwant %q", got, want)
	}
	if r := us.GetUser([]byte("nobody")); r.Kind != resp.KindNull {
		t.Fatalf("GETUSER of no user: %v", r)
	}
}

func ptr(r resp.Reply) *resp.Reply { return &r }

func TestCat(t *testing.T) {
	if got := Categories(); len(got) != 21 || got[0] != "keyspace" || got[20] != "scripting" {
		t.Fatalf("Categories = %q", got)
	}
	str, err := Cat([]byte("STRING"))
	if err != nil || !contains(str, "get") || !contains(str, "mset") || contains(str, "hget") {
		t.Fatalf("Cat(string) = %q, %v", str, err)
	}
	adm, _ := Cat([]byte("admin"))
	if dng, _ := Cat([]byte("dangerous")); !contains(dng, "flushall") {
		t.Fatalf("Cat(dangerous) = %q", dng)
	}
	if !contains(adm, "config|set") || contains(adm, "flushall") {
		t.Fatalf("Cat(admin) = %q", adm)
	}
	_, err = Cat([]byte("nosuch"))
	if err == nil || err.Error() != "ERR Unknown category 'nosuch'" {
		t.Fatalf("Cat(nosuch) = %v", err)
	}
	if r := CatReply(bs(strings.Repeat("x", 200))); r.String() != "ERR Unknown category '"+strings.Repeat("x", 128)+"'" {
		t.Fatalf("long category: %s", r.String())
	}
}

func TestGenPass(t *testing.T) {
	for bits, n := range map[int]int{1: 1, 4: 1, 5: 2, 256: 64, 4096: 1024} {
		p, err := GenPass(bits)
		if err != nil || len(p) != n || strings.Trim(p, "0123456789abcdef") != "" {
			t.Errorf("GenPass(%d) = %q, %v", bits, p, err)
		}
	}
	for _, bits := range []int{0, -1, 4097} {
		if _, err := GenPass(bits); !errors.Is(err, ErrGenPassBits) {
			t.Errorf("GenPass(%d): %v", bits, err)
		}
	}
}

func TestLog(t *testing.T) {
	l := NewLog(3)
	t0 := time.UnixMilli(1_000_000)
	ev := func(obj string) Event {
		return Event{Reason: ReasonKey, Context: ContextToplevel, Object: obj, Username: "bob", ClientInfo: "id=1"}
	}
	l.Add(ev("a"), t0)
	l.Add(ev("b"), t0.Add(time.Second))
	l.Add(ev("a"), t0.Add(2*time.Second)) // grouped with the first, moved to the front
	e := l.Entries(-1)
	if len(e) != 2 || e[0].Object != "a" || e[0].Count != 2 || e[0].EntryID != 0 || e[0].Created != 1_000_000 ||
		e[0].Updated != 1_002_000 || e[1].Object != "b" || e[1].EntryID != 1 {
		t.Fatalf("entries = %+v", e)
	}
	l.Add(ev("a"), t0.Add(63*time.Second)) // more than a minute after the update: new entry
	l.Add(ev("c"), t0.Add(64*time.Second))
	l.Add(Event{Reason: ReasonAuth, Context: ContextMulti, Object: "AUTH", Username: "x"}, t0.Add(65*time.Second))
	e = l.Entries(-1)
	if len(e) != 3 || e[0].Object != "AUTH" || e[2].Object != "a" || e[2].EntryID != 2 {
		t.Fatalf("capped entries = %+v", e)
	}
	r := l.Reply(1, t0.Add(66*time.Second))
	got := string(resp.AppendReply(nil, &r, 2))
	want := "*1\r\n*20\r\n$5\r\ncount\r\n:1\r\n$6\r\nreason\r\n$4\r\nauth\r\n$7\r\ncontext\r\n$5\r\nmulti\r\n" +
		"$6\r\nobject\r\n$4\r\nAUTH\r\n$8\r\nusername\r\n$1\r\nx\r\n$11\r\nage-seconds\r\n$1\r\n1\r\n" +
		"$11\r\nclient-info\r\n$0\r\n\r\n$8\r\nentry-id\r\n:4\r\n$17\r\ntimestamp-created\r\n:1065000\r\n" +
		"$22\r\ntimestamp-last-updated\r\n:1065000\r\n"
	if got != want {
		t.Fatalf("ACL LOG 1:\n got %q\nwant %q", got, want)
	}
	if s := l.Stats(); s.Key != 5 || s.Auth != 1 {
		t.Fatalf("stats = %+v", s)
	}
	l.Reset()
	if len(l.Entries(-1)) != 0 {
		t.Fatal("RESET kept entries")
	}
	l.Add(ev("z"), t0)
	if e := l.Entries(-1); e[0].EntryID != 5 {
		t.Fatalf("entry id after RESET = %d", e[0].EntryID)
	}
}

func TestDenialLogAndTexts(t *testing.T) {
	us := New()
	mustSet(t, us, "bob", "on", "+get", "~a*")
	cmd, sub, args := cmdArgs("get", "b")
	d := us.User("bob").Check(cmd, sub, args)
	if d.DryRun() != "User bob has no permissions to access the 'b' key" ||
		d.ExecErr().Error() != "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to touch the specified keys" {
		t.Fatalf("texts: %q %q", d.DryRun(), d.ExecErr())
	}
	args[1][0] = 'x' // the denial keeps no reference to the arguments
	if ev := d.Event(ContextMulti, "id=7"); ev.Object != "b" || ev.Username != "bob" || ev.Reason != ReasonKey || ev.Context != ContextMulti {
		t.Fatalf("event = %+v", ev)
	}
}

func TestSaveLoad(t *testing.T) {
	us := New()
	mustSet(t, us, "bob", "on", ">p", "%R~r*", "&c", "+@read", "-get", "(~x +set)")
	mustSet(t, us, "alice", "on", "nopass", "+select|0")
	saved := us.Save()
	want := "user alice on nopass sanitize-payload resetchannels -@all +select|0\n" +
		"user bob on sanitize-payload #" + hashP + " %R~r* resetchannels &c -@all +@read -get (~x resetchannels -@all +set)\n" +
		"user default on nopass sanitize-payload ~* &* +@all\n"
	if string(saved) != want {
		t.Fatalf("Save:\n%s\nwant\n%s", saved, want)
	}
	us2 := New()
	if err := us2.Load("users.acl", saved); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(us2.Save(), saved) {
		t.Fatalf("Load(Save) differs:\n%s", us2.Save())
	}
	// Without a default user the file gets Redis's default one.
	if err := us2.Load("users.acl", []byte("\n  user carol on +get  \r\n\n")); err != nil {
		t.Fatal(err)
	}
	if got := us2.List(); len(got) != 2 || got[0] != "user carol on sanitize-payload resetchannels -@all +get" || got[1] != "user default on nopass sanitize-payload ~* &* +@all" {
		t.Fatalf("List = %q", got)
	}
	bad := "user a on +nosuch +nosuch2 bogus ~a\\x ~b b\nusers x\nuser a on\nuser b (~a\nuser c ~* ~d\n"
	err := us2.Load("users.acl", []byte(bad))
	wantErr := "users.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. " +
		"users.acl:1: Error in applying operation '+nosuch2': Unknown command or category name in ACL. " +
		"users.acl:1: Syntax error. " +
		"users.acl:2 should start with user keyword followed by the username. " +
		"WARNING: Duplicate user 'a' found on line 3. " +
		"users.acl:4: Unmatched parenthesis in selector definition." +
		"users.acl:5: Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns. " +
		"WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
	if err == nil || err.Error() != wantErr {
		t.Fatalf("Load(bad):\n got %v\nwant %s", err, wantErr)
	}
	if len(us2.List()) != 2 {
		t.Fatal("a refused Load changed the users")
	}
	if err := us2.LoadFile(t.TempDir() + "/none.acl"); err == nil || !strings.HasSuffix(err.Error(), "none.acl': No such file or directory") {
		t.Fatalf("LoadFile(missing) = %v", err)
	}
	path := t.TempDir() + "/users.acl"
	if err := us.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	us3 := New()
	if err := us3.LoadFile(path); err != nil || !bytes.Equal(us3.Save(), saved) {
		t.Fatalf("SaveFile/LoadFile: %v", err)
	}
}

func TestReplication(t *testing.T) {
	leader, follower := New(), New()
	apply := func(op Op, want string) {
		t.Helper()
		b := op.Encode()
		dec, err := DecodeOp(b)
		if err != nil {
			t.Fatal(err)
		}
		r1, r2 := leader.Apply(dec), follower.Apply(dec)
		if r1.String() != want || r2.String() != want {
			t.Fatalf("apply %v: %q %q, want %q", op.Kind, r1.String(), r2.String(), want)
		}
	}
	op, err := leader.PrepareSetUser([]byte("bob"), bs("on", ">hunter2", "~a*", "+get", "<hunter2", ">p"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(op.Encode(), []byte("hunter2")) {
		t.Fatal("a plaintext password entered the log")
	}
	apply(op, "OK")
	apply(RequirePassOp([]byte("s3")), "OK")
	if _, err := leader.PrepareSetUser([]byte("bob"), bs("bogus")); err == nil {
		t.Fatal("PrepareSetUser accepted a bad rule")
	}
	op, _ = leader.PrepareSetUser([]byte("bob"), bs("<p"))
	apply(op, "OK")
	apply(op, "ERR Error in ACL SETUSER modifier '!"+hashP+"': The password you are trying to remove from the user does not exist")
	apply(DelUserOp(bs("bob", "nobody")), "")
	apply(DelUserOp(bs("default")), "ERR The 'default' user cannot be removed")
	apply(LoadOp("f.acl", []byte("user x on\n")), "OK")
	l, _ := leader.MarshalBinary()
	f, _ := follower.MarshalBinary()
	if !bytes.Equal(l, f) {
		t.Fatalf("replicas differ:\n%s\n%s", l, f)
	}
	fresh := New()
	if err := fresh.Restore(l); err != nil {
		t.Fatal(err)
	}
	if g, _ := fresh.MarshalBinary(); !bytes.Equal(g, l) {
		t.Fatal("Restore(MarshalBinary) differs")
	}
	for _, b := range [][]byte{nil, {0}, {1}, {1, 9, 0}, {1, 1, 5}, {1, 1, 1, 200}, append(op.Encode(), 0)} {
		if _, err := DecodeOp(b); !errors.Is(err, ErrCodec) {
			t.Errorf("DecodeOp(%v) = %v", b, err)
		}
	}
	if fresh.Restore([]byte{2}) != ErrCodec {
		t.Error("Restore took an unknown version")
	}
}

func FuzzDecodeOp(f *testing.F) {
	f.Add(Op{Kind: OpSetUser, Args: bs("bob", "on", "(~a +get)")}.Encode())
	f.Add(LoadOp("x", []byte("user a on\n")).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b)
		if err != nil {
			return
		}
		if !bytes.Equal(op.Encode(), b) {
			t.Fatalf("re-encoding differs")
		}
		New().Apply(op) // must not panic
	})
}

func FuzzSetUser(f *testing.F) {
	f.Add([]byte("on"), []byte("(~a +get)"), []byte("%RW~x"))
	f.Add([]byte("+config|get"), []byte("-@all"), []byte("+select|0"))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		us := New()
		if us.SetUser([]byte("u"), [][]byte{a, b, c}) != nil {
			return
		}
		u := us.User("u")
		// What is described is what is loaded.
		us2 := New()
		if err := us2.Load("f", []byte(u.Line()+"\n")); err != nil {
			// An aclfile line is split on spaces and ends at a newline, and
			// parentheses delimit selectors, so a rule holding blanks, a
			// NUL or a parenthesis inside a pattern or a first argument
			// cannot be written back; anything else must be.
			var le *LoadError
			if !errors.As(err, &le) || !slices.ContainsFunc([][]byte{a, b, c}, func(r []byte) bool {
				return bytes.ContainsAny(r, " \t\r\n\x00()")
			}) {
				t.Fatalf("%q cannot be loaded back: %v", u.Line(), err)
			}
			return
		}
		if got := us2.User("u").Line(); got != u.Line() {
			t.Fatalf("reload: %q != %q", got, u.Line())
		}
		cmd, sub, args := cmdArgs("get", string(a))
		u.Check(cmd, sub, args)
	})
}

func TestConcurrentReaders(t *testing.T) {
	us := New()
	mustSet(t, us, "bob", "on", "nopass", "+get", "~a*")
	cmd, sub, args := cmdArgs("get", "a1")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if u := us.User("bob"); u == nil || u.Check(cmd, sub, args) != nil {
					t.Error("reader saw a partial change")
					return
				}
				_ = us.List()
			}
		}()
	}
	for i := 0; i < 200; i++ {
		mustSet(t, us, "bob", "+set", fmt.Sprintf("~k%d", i), "(~b +del)")
		mustSet(t, us, fmt.Sprintf("u%d", i), "on")
		if _, err := us.DelUser([]byte(fmt.Sprintf("u%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestDryRun(t *testing.T) {
	us := New()
	mustSet(t, us, "bob", "+get", "~a*")
	for _, c := range []struct {
		user, want string
		args       []string
	}{
		{"bob", "OK", []string{"get", "a1"}},
		{"bob", "User bob has no permissions to access the 'b' key", []string{"get", "b"}},
		{"bob", "User bob has no permissions to run the 'config|get' command", []string{"config", "get", "x"}},
		{"bob", "ERR wrong number of arguments for 'get' command", []string{"get"}},
		{"bob", "ERR Command 'nosuch' not found", []string{"nosuch"}},
		{"bob", "ERR Command 'config' not found", []string{"config", "nosuch"}},
		{"eve", "ERR User 'eve' not found", []string{"get", "a"}},
	} {
		if got := us.DryRun([]byte(c.user), bs(c.args...)).String(); got != c.want {
			t.Errorf("DRYRUN %s %q = %q, want %q", c.user, c.args, got, c.want)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	us := New()
	if err := us.SetUser([]byte("bob"), bs("on", "+@all", "%R~r*", "~a*", "(~b* +get)")); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		user string
		req  []string
	}{
		{"default", []string{"get", "a1"}},
		{"bob", []string{"get", "a1"}},
		{"bob", []string{"mset", "a1", "v", "a2", "v"}},
	} {
		u := us.User(c.user)
		cmd, sub, args := cmdArgs(c.req...)
		b.Run(c.user+"/"+c.req[0], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if u.Check(cmd, sub, args) != nil {
					b.Fatal("denied")
				}
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("user a on >p ~a* (%R~b +get) +@read -get\nuser default off\n"))
	f.Add([]byte("user a (~x\nuser b on\tnopass\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		us := New()
		if us.Load("f", data) != nil {
			return
		}
		// What loads saves, and what saves loads back the same.
		us2 := New()
		if err := us2.Load("f", us.Save()); err != nil {
			t.Fatalf("reload: %v\n%s", err, us.Save())
		}
		if !bytes.Equal(us2.Save(), us.Save()) {
			t.Fatalf("reload differs:\n%s\n%s", us.Save(), us2.Save())
		}
	})
}
