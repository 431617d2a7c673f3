package acl

import (
	"strings"

	"github.com/raftcache/raftcache/resp"
)

// Reason is why the ACL refused something, numbered as Redis numbers
// them: when several selectors refuse a command, the highest reason wins.
type Reason uint8

// The reasons of ACL LOG entries ("command", "key", "auth", "channel").
const (
	ReasonCommand Reason = 1 + iota
	ReasonKey
	ReasonAuth
	ReasonChannel
)

func (r Reason) String() string {
	switch r {
	case ReasonCommand:
		return "command"
	case ReasonKey:
		return "key"
	case ReasonAuth:
		return "auth"
	case ReasonChannel:
		return "channel"
	}
	return "unknown"
}

// Denial is a command the ACL refused: why, and what to tell the client
// and the ACL log. Check returns it; it holds no reference to the
// command's arguments.
type Denial struct {
	Reason Reason
	// User is the user's name, Command the command's full name
	// ("config|get").
	User, Command string
	// Pos is the index in args of the refused key (0 for a refused
	// command), and Object what the ACL log records: the command's full
	// name, or a copy of the key.
	Pos    int
	Object string
}

// Err returns the NOPERM error the client gets (Redis 7.2's texts).
func (d *Denial) Err() *resp.Error {
	switch d.Reason {
	case ReasonKey:
		return ErrNoPermKey
	case ReasonChannel:
		return ErrNoPermChannel
	}
	return ErrNoPermCommand(d.User, d.Command)
}

// ExecErr returns EXEC's reply for a queued command the user may no
// longer run.
func (d *Denial) ExecErr() *resp.Error { return ErrExecChanged(d.Reason) }

// DryRun returns ACL DRYRUN's bulk string for the denial, which names
// the key.
func (d *Denial) DryRun() string {
	switch d.Reason {
	case ReasonKey:
		return "User " + d.User + " has no permissions to access the '" + d.Object + "' key"
	case ReasonChannel:
		return "User " + d.User + " has no permissions to access the '" + d.Object + "' channel"
	}
	return "User " + d.User + " has no permissions to run the '" + d.Command + "' command"
}

// Event returns the ACL log event of the denial, for a connection whose
// CLIENT LIST line is clientInfo, in the given context.
func (d *Denial) Event(ctx Context, clientInfo string) Event {
	return Event{Reason: d.Reason, Context: ctx, Object: d.Object, Username: d.User, ClientInfo: clientInfo}
}

// Check reports whether the user may run a command, as Redis 7.2's
// ACLCheckAllUserCommandPerm decides: nil if it may, else the Denial.
//
// cmd is the top-level command and sub its subcommand or nil, as the
// server's plan has them after lookup and arity checks; args are the
// whole request (args[0] the command's name). Check reads args during
// the call only. Each selector is tried in turn (the root first): the
// command must be allowed (no_auth commands always are; a command allowed
// only with certain first arguments must have one of them), then every
// key, located by the command's key specs, must match a pattern granting
// what the spec does with it (access → read; insert, delete, update →
// write). The first selector that allows everything wins; if none does,
// the denial is a refused key if some selector got that far (the last key
// position any selector refused), else the refused command.
func (u *User) Check(cmd, sub *resp.Command, args [][]byte) *Denial {
	eff := cmd
	if sub != nil {
		eff = sub
	}
	var buf [8]keyRef // the keys of most commands, without allocating
	keys := buf[:0]
	keysDone := false
	reason, pos := ReasonCommand, 0
	for _, s := range u.selectors {
		r, p := Reason(0), 0
		if !s.commandAllowed(eff, sub != nil, args) {
			r = ReasonCommand
		} else if !s.allKeys && len(eff.KeySpecs) > 0 {
			if !keysDone {
				keys, keysDone = commandKeys(keys, eff, args), true
			}
			for _, k := range keys {
				if !s.keyAllowed(args[k.pos], k.flags) {
					r, p = ReasonKey, k.pos
					break
				}
			}
		}
		if r == 0 {
			return nil
		}
		if r > reason || r == reason && p > pos {
			reason, pos = r, p
		}
	}
	d := &Denial{Reason: reason, User: u.name, Command: eff.FullName, Pos: pos}
	if reason == ReasonCommand {
		d.Object = eff.FullName
	} else if pos < len(args) {
		d.Object = string(args[pos])
	}
	return d
}

// commandAllowed is the command half of Redis's ACLSelectorCheckCmd:
// no_auth commands, a set bit, or an allowed first argument (args[1], or
// args[2] for a subcommand).
func (s *selector) commandAllowed(cmd *resp.Command, isSub bool, args [][]byte) bool {
	if cmd.Flags&resp.FlagNoAuth != 0 || s.bit(cmd.ID) {
		return true
	}
	idx := 1
	if isSub {
		idx = 2
	}
	if idx >= len(args) {
		return false
	}
	for _, a := range s.firstArgs[cmd.ID] {
		if strings.EqualFold(a, string(args[idx])) {
			return true
		}
	}
	return false
}

// keyAllowed reports whether a pattern of the selector grants what a key
// spec with the given flags does with key (ACLSelectorCheckKey).
func (s *selector) keyAllowed(key []byte, flags resp.KeyFlag) bool {
	if s.allKeys {
		return true
	}
	need := neededPerm(flags)
	for i := range s.patterns {
		p := &s.patterns[i]
		if p.perm&need == need && p.glob.MatchBytes(key) {
			return true
		}
	}
	return false
}

func neededPerm(f resp.KeyFlag) keyPerm {
	var need keyPerm
	if f&resp.KeyAccess != 0 {
		need |= permRead
	}
	if f&(resp.KeyInsert|resp.KeyDelete|resp.KeyUpdate) != 0 {
		need |= permWrite
	}
	return need
}

// CheckKey reports whether the user may access key as a key spec with
// the given flags does (ACLUserCheckKeyPerm): whether some selector has a
// pattern for it. For commands that find keys as they run.
func (u *User) CheckKey(key []byte, flags resp.KeyFlag) bool {
	for _, s := range u.selectors {
		if s.keyAllowed(key, flags) {
			return true
		}
	}
	return false
}

// keyRef is one key argument and the flags of the spec that found it.
type keyRef struct {
	pos   int
	flags resp.KeyFlag
}

// commandKeys locates the keys of a command as Redis's
// getKeysFromCommandWithSpecs does: by the key specs, unless a spec's
// flags depend on the arguments (SET: only with GET does it read the
// key), when the command's own function decides.
func commandKeys(dst []keyRef, cmd *resp.Command, args [][]byte) []keyRef {
	var variable bool
	for _, ks := range cmd.KeySpecs {
		variable = variable || ks.Flags&resp.KeyVariableFlags != 0
	}
	// Redis's getkeys_proc functions for the commands raftcache serves
	// whose key flags vary; another such command would fall back on its
	// specs, whose flags are the most any form of it needs.
	if variable && cmd.FullName == "set" {
		return setKeys(dst, args)
	}
	return keysBySpecs(dst, cmd, args)
}

// setKeys is Redis's setGetKeys: SET's key is read (RW access update)
// with the GET option, else only overwritten (OW update).
func setKeys(dst []keyRef, args [][]byte) []keyRef {
	if len(args) < 2 {
		return dst
	}
	for _, a := range args[min(3, len(args)):] {
		if len(a) >= 3 && (a[0]|0x20) == 'g' && (a[1]|0x20) == 'e' && (a[2]|0x20) == 't' &&
			(len(a) == 3 || a[3] == 0) {
			return append(dst, keyRef{1, resp.KeyRW | resp.KeyAccess | resp.KeyUpdate})
		}
	}
	return append(dst, keyRef{1, resp.KeyOW | resp.KeyUpdate})
}

// keysBySpecs is Redis's getKeysUsingKeySpecs for specs that begin at an
// index and find a range: a spec whose range falls outside the arguments
// (or an incomplete one) makes the whole result empty.
func keysBySpecs(dst []keyRef, cmd *resp.Command, args [][]byte) []keyRef {
	argc := len(args)
	out := dst
	for _, ks := range cmd.KeySpecs {
		if ks.Flags&resp.KeyNotKey != 0 {
			continue
		}
		first := ks.Index
		var last int
		switch {
		case ks.LastKey >= 0:
			last = first + ks.LastKey
		case ks.Limit == 0:
			last = argc + ks.LastKey
		default:
			last = first + ((argc-first)/ks.Limit + ks.LastKey)
		}
		if last >= argc || last < first || first >= argc || ks.Flags&resp.KeyIncomplete != 0 {
			return dst[:0]
		}
		step := max(ks.Step, 1)
		for i := first; i <= last; i += step {
			out = append(out, keyRef{i, ks.Flags})
		}
	}
	return out
}

// DryRun answers ACL DRYRUN username command [arg ...]: whether the user
// may run the command, as a bulk string naming what is refused, or OK.
// The command is looked up and its arity checked as Redis 7.2 does there.
func (us *Users) DryRun(username []byte, args [][]byte) resp.Reply {
	u := us.User(string(username))
	if u == nil {
		return ErrDryRunNoUser(username).Reply()
	}
	if len(args) == 0 {
		return resp.ErrSyntax.Reply()
	}
	cmd := resp.Lookup(args[0])
	var sub *resp.Command
	if cmd != nil && cmd.Subcommands != nil && len(args) > 1 {
		sub = cmd.LookupSub(args[1])
		if sub == nil {
			cmd = nil
		}
	}
	if cmd == nil {
		return ErrDryRunNoCommand(args[0]).Reply()
	}
	eff := cmd
	if sub != nil {
		eff = sub
	}
	if !eff.CheckArity(len(args)) {
		return resp.ErrWrongArgs(eff.FullName).Reply()
	}
	if d := u.Check(cmd, sub, args); d != nil {
		return resp.BulkString(d.DryRun())
	}
	return resp.OK
}
