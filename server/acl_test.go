package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// errText is the text of a command's error, "" for none.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestACLEnforced: users made with ACL SETUSER log in with AUTH and HELLO,
// run what their rules allow, get Redis's NOPERM texts otherwise (recorded
// in ACL LOG), in single commands, pipelines and transactions; a change to
// a user applies from its connections' next command, and a deleted user's
// connections are closed.
func TestACLEnforced(t *testing.T) {
	s, _ := startServer(t)
	ctx := t.Context()
	admin := newClient(t, s, 2)
	if err := admin.Do(ctx, "ACL", "SETUSER", "alice", "on", ">pw", "~k*", "+get", "+set", "+multi", "+exec",
		"+acl|whoami").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := admin.Do(ctx, "ACL", "USERS").StringSlice(); err != nil || strings.Join(got, " ") != "alice default" {
		t.Fatalf("ACL USERS = %q, %v", got, err)
	}
	if got, err := admin.Do(ctx, "ACL", "LIST").StringSlice(); err != nil || len(got) != 2 ||
		!strings.HasPrefix(got[0], "user alice on sanitize-payload #") {
		t.Fatalf("ACL LIST = %q, %v", got, err)
	}

	for _, proto := range []int{2, 3} { // AUTH, then HELLO 3 AUTH
		alice := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Username: "alice", Password: "pw",
			Protocol: proto, MaxRetries: -1})
		if err := alice.Set(ctx, "k1", "v", 0).Err(); err != nil {
			t.Fatalf("RESP%d: SET k1 as alice: %v", proto, err)
		}
		if who, err := alice.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "alice" {
			t.Fatalf("ACL WHOAMI = %q, %v", who, err)
		}
		if err := alice.Set(ctx, "other", "v", 0).Err(); errText(err) != "NOPERM No permissions to access a key" {
			t.Fatalf("SET other as alice: %v", err)
		}
		if err := alice.Del(ctx, "k1").Err(); errText(err) != "NOPERM User alice has no permissions to run the 'del' command" {
			t.Fatalf("DEL as alice: %v", err)
		}
		alice.Close()
	}
	bad := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Username: "alice", Password: "nope", MaxRetries: -1})
	if err := bad.Ping(ctx).Err(); !strings.HasPrefix(errText(err), "WRONGPASS") {
		t.Fatalf("AUTH alice with a wrong password: %v", err)
	}
	bad.Close()

	// ACL LOG, newest first: the failed AUTH, then the refused DEL.
	entries, err := admin.Do(ctx, "ACL", "LOG").Slice()
	if err != nil || len(entries) < 3 {
		t.Fatalf("ACL LOG = %v, %v", entries, err)
	}
	first := logEntry(t, entries[0])
	if first["reason"] != "auth" || first["username"] != "alice" || first["context"] != "toplevel" {
		t.Fatalf("ACL LOG's newest entry = %v", first)
	}
	// go-redis tries HELLO 3 AUTH, then AUTH: two auth entries (their
	// objects differ), then the refused DEL (the two DELs are one entry
	// counted twice, as Redis groups them).
	var del map[string]any
	for _, e := range entries {
		if m := logEntry(t, e); m["object"] == "del" {
			del = m
		}
	}
	if del == nil || del["reason"] != "command" || del["count"] != int64(2) ||
		!strings.Contains(del["client-info"].(string), "user=alice") {
		t.Fatalf("ACL LOG's entry for DEL = %v", del)
	}

	// INFO stats counts every refusal: two failed AUTHs (HELLO, then
	// AUTH); six commands: the two DELs and go-redis's two CLIENT SETINFO
	// on each of alice's two connections (alice may not run CLIENT, and
	// go-redis ignores that refusal, as it does Redis's); two keys.
	info, err := admin.Info(ctx, "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acl_access_denied_auth:2\r\n", "acl_access_denied_cmd:6\r\n",
		"acl_access_denied_key:2\r\n", "acl_access_denied_channel:0\r\n"} {
		if !strings.Contains(info, want) {
			t.Fatalf("INFO stats lacks %q:\n%s", want, info)
		}
	}

	// A pipeline: the refused command is answered alone, the others run.
	alice := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Username: "alice", Password: "pw", MaxRetries: -1})
	defer alice.Close()
	cmds, _ := alice.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k2", "a", 0)
		p.Get(ctx, "nokey")
		p.Get(ctx, "k2")
		return nil
	})
	if errText(cmds[0].Err()) != "" || errText(cmds[1].Err()) != "NOPERM No permissions to access a key" ||
		cmds[2].(*redis.StringCmd).Val() != "a" {
		t.Fatalf("pipeline: %v", cmds)
	}

	// MULTI: a refused command dooms the transaction.
	_, err = alice.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k3", "x", 0)
		p.Del(ctx, "k3")
		return nil
	})
	if !strings.HasPrefix(errText(err), "EXECABORT") {
		t.Fatalf("MULTI with a refused command: %v", err)
	}
	// EXEC checks again: a rule removed after queueing refuses the
	// command there, and the others run.
	rc := dialRaw(t, s)
	rc.send("AUTH alice pw\r\nMULTI\r\nSET k4 y\r\nGET k4\r\n")
	rc.expect("+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n")
	if err := admin.Do(ctx, "ACL", "SETUSER", "alice", "-get").Err(); err != nil {
		t.Fatal(err)
	}
	rc.send("EXEC\r\n")
	rc.expect("*2\r\n+OK\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated " +
		"and the EXEC call. This command is no longer allowed for the following reason: " +
		"no permission to execute the command or subcommand\r\n")
	rc.send("GET k4\r\n")
	rc.expect("-NOPERM User alice has no permissions to run the 'get' command\r\n")
	if m := logEntry(t, mustSlice(t, admin.Do(ctx, "ACL", "LOG", "2"))[1]); m["context"] != "multi" || m["object"] != "get" {
		t.Fatalf("ACL LOG's entry for EXEC's refusal = %v", m)
	}

	// DELUSER: the user's connection is closed at its next command.
	if n, err := admin.Do(ctx, "ACL", "DELUSER", "alice").Int(); err != nil || n != 1 {
		t.Fatalf("ACL DELUSER = %d, %v", n, err)
	}
	rc.expectClosed() // without sending anything, as Redis closes it
	if err := admin.Do(ctx, "ACL", "DELUSER", "default").Err(); errText(err) != "ERR The 'default' user cannot be removed" {
		t.Fatalf("ACL DELUSER default: %v", err)
	}
}

func mustSlice(t *testing.T, cmd *redis.Cmd) []any {
	t.Helper()
	v, err := cmd.Slice()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// logEntry turns an ACL LOG entry (RESP2: a flat array of pairs) into a map.
func logEntry(t *testing.T, e any) map[string]any {
	t.Helper()
	list, ok := e.([]any)
	if !ok || len(list)%2 != 0 {
		t.Fatalf("ACL LOG entry %v", e)
	}
	m := map[string]any{}
	for i := 0; i < len(list); i += 2 {
		m[list[i].(string)] = list[i+1]
	}
	return m
}

// TestACLCommands checks the replies of the read-only ACL subcommands.
func TestACLCommands(t *testing.T) {
	s, _ := startServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := newClient(t, s, 2)
	if pass, err := c.Do(ctx, "ACL", "GENPASS").Text(); err != nil || len(pass) != 64 {
		t.Fatalf("ACL GENPASS = %q, %v", pass, err)
	}
	if pass, err := c.Do(ctx, "ACL", "GENPASS", "5").Text(); err != nil || len(pass) != 2 {
		t.Fatalf("ACL GENPASS 5 = %q, %v", pass, err)
	}
	if err := c.Do(ctx, "ACL", "GENPASS", "0").Err(); !strings.HasPrefix(errText(err), "ERR ACL GENPASS argument must be") {
		t.Fatalf("ACL GENPASS 0: %v", err)
	}
	if cats, err := c.Do(ctx, "ACL", "CAT").StringSlice(); err != nil || len(cats) < 20 {
		t.Fatalf("ACL CAT = %q, %v", cats, err)
	}
	if r, err := c.Do(ctx, "ACL", "DRYRUN", "default", "get", "k").Text(); err != nil || r != "OK" {
		t.Fatalf("ACL DRYRUN = %q, %v", r, err)
	}
	if err := c.Do(ctx, "ACL", "SAVE").Err(); !strings.HasPrefix(errText(err), "ERR This Redis instance is not configured to use an ACL file.") {
		t.Fatalf("ACL SAVE without an aclfile: %v", err)
	}
	if help, err := c.Do(ctx, "ACL", "HELP").StringSlice(); err != nil || !strings.HasPrefix(help[0], "ACL <subcommand>") {
		t.Fatalf("ACL HELP = %q, %v", help, err)
	}
	if err := c.Do(ctx, "ACL", "LOG", "RESET").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Do(ctx, "ACL", "LOG").Slice(); err != nil || len(n) != 0 {
		t.Fatalf("ACL LOG after RESET = %v, %v", n, err)
	}
	if err := c.Do(ctx, "CONFIG", "SET", "acllog-max-len", "3").Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.ConfigGet(ctx, "acllog-max-len").Result(); err != nil || v["acllog-max-len"] != "3" {
		t.Fatalf("CONFIG GET acllog-max-len = %v, %v", v, err)
	}
	// CONFIG SET requirepass is the default user's password.
	if err := c.ConfigSet(ctx, "requirepass", "hunter2").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Do(ctx, "ACL", "GETUSER", "default").Slice(); err != nil || !strings.Contains(fmt.Sprint(got), "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7") {
		t.Fatalf("ACL GETUSER default after CONFIG SET requirepass = %v, %v", got, err)
	}
	if v, err := c.ConfigGet(ctx, "requirepass").Result(); err != nil || v["requirepass"] != "" {
		t.Fatalf("CONFIG GET requirepass = %v, %v", v, err)
	}
	if err := c.Do(ctx, "ACL", "SETUSER", "bob", "bogus").Err(); errText(err) != "ERR Error in ACL SETUSER modifier 'bogus': Syntax error" {
		t.Fatalf("ACL SETUSER with a bad rule: %v", err)
	}
}
