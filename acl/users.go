package acl

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/raftcache/raftcache/resp"
)

// Users is the set of ACL users of one node. Readers (User, Authenticate,
// List, the permission checks of every command) take no lock: they read
// an immutable snapshot through an atomic pointer. Writers (SetUser,
// DelUser, Load, Restore, SetRequirePass) are serialised by a mutex,
// build a new snapshot and publish it, so a reader sees each change
// whole or not at all.
//
// Every change is deterministic: the same changes applied in the same
// order to equal sets give equal sets (no clock, no randomness), which is
// what replication through a Raft log needs (see DESIGN.md).
type Users struct {
	mu  sync.Mutex
	cur atomic.Pointer[snapshot]
}

// snapshot is one immutable state of the set.
type snapshot struct {
	users   map[string]*User
	names   []string // sorted by bytes, as Redis's rax iterates
	version uint64
}

// New returns a set holding only the default user as Redis starts it:
// "user default on nopass sanitize-payload ~* &* +@all".
func New() *Users {
	us := &Users{}
	d := newDefaultUser()
	us.cur.Store(&snapshot{users: map[string]*User{DefaultUser: d}, names: []string{DefaultUser}, version: 1})
	return us
}

func (us *Users) snap() *snapshot { return us.cur.Load() }

// Version numbers the states of the set: it grows with every change. A
// connection that keeps the *User it authenticated as compares versions
// before each command and looks its user up again when they differ (the
// user may have changed, or been deleted: then Redis closes the
// connection).
func (us *Users) Version() uint64 { return us.snap().version }

// User returns the named user (names are case-sensitive), or nil.
func (us *Users) User(name string) *User { return us.snap().users[name] }

// Default returns the default user.
func (us *Users) Default() *User { return us.snap().users[DefaultUser] }

// AuthRequired reports whether a new connection must authenticate before
// it may run commands other than no_auth ones: when the default user has
// a password or is off (Redis's authRequired).
func (us *Users) AuthRequired() bool {
	d := us.Default()
	return !d.noPass || !d.enabled
}

// Names returns the user names sorted by bytes (ACL USERS).
func (us *Users) Names() []string { return slices.Clone(us.snap().names) }

// List returns one line per user, sorted by name, exactly as ACL LIST
// prints them: "user default on nopass sanitize-payload ~* &* +@all".
func (us *Users) List() []string {
	s := us.snap()
	out := make([]string, len(s.names))
	for i, n := range s.names {
		out[i] = s.users[n].Line()
	}
	return out
}

// GetUser returns the ACL GETUSER reply for name: the user's map, or a
// null reply when there is no such user.
func (us *Users) GetUser(name []byte) resp.Reply {
	u := us.User(string(name))
	if u == nil {
		return resp.Null
	}
	return u.Reply()
}

// Authenticate returns the named user if password authenticates it
// (Redis's ACLCheckUserCredentials); nil for an unknown user, a user
// that is off, or a wrong password — all of which Redis answers with
// WRONGPASS and logs as an "auth" entry in the ACL log.
func (us *Users) Authenticate(name, password []byte) *User {
	u := us.User(string(name))
	if u == nil || !u.CheckPassword(password) {
		return nil
	}
	return u
}

// SetUser creates or changes a user as ACL SETUSER does: every rule is
// applied to a copy and the copy replaces the user only if all of them
// applied, so a refused rule changes nothing. A selector may be spread
// over several rules ("(~a" "+get)"). The error is ErrUsernameSpaces, a
// *ParenError or a *RuleError; their Err methods give Redis's reply. The
// rules are copied: the caller may reuse them.
func (us *Users) SetUser(name []byte, rules [][]byte) error {
	if hasSpace(name) {
		return ErrUsernameSpaces
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	s := us.snap()
	u, err := buildUser(s.users[string(name)], string(name), rules)
	if err != nil {
		return err
	}
	us.publish(s, u, "")
	return nil
}

// buildUser applies rules to a copy of old (or to a new user) and
// returns the result.
func buildUser(old *User, name string, rules [][]byte) (*User, error) {
	merged, err := mergeSelectors(rules)
	if err != nil {
		return nil, err
	}
	var u *User
	if old != nil {
		u = old.clone()
	} else {
		u = newUser(name)
	}
	for _, r := range merged {
		if reason, unknown := u.apply(r); reason != "" {
			return nil, &RuleError{Rule: r, Reason: reason, unknown: unknown}
		}
	}
	return u, nil
}

// publish installs a new snapshot with u added or replaced (u non-nil)
// or the user named del removed. The caller holds us.mu.
func (us *Users) publish(s *snapshot, u *User, del string) {
	users := make(map[string]*User, len(s.users)+1)
	for n, x := range s.users {
		users[n] = x
	}
	if u != nil {
		users[u.name] = u
	}
	if del != "" {
		delete(users, del)
	}
	us.install(users, s.version)
}

func (us *Users) install(users map[string]*User, version uint64) {
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	slices.Sort(names)
	us.cur.Store(&snapshot{users: users, names: names, version: version + 1})
}

// DelUser deletes users as ACL DELUSER does and returns how many existed.
// Naming the default user is ErrDeleteDefault and deletes nothing.
// Connections authenticated as a deleted user must be closed by the
// server (Users.User returns nil for them).
func (us *Users) DelUser(names ...[]byte) (int, error) {
	for _, n := range names {
		if string(n) == DefaultUser {
			return 0, ErrDeleteDefault
		}
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	s := us.snap()
	users := make(map[string]*User, len(s.users))
	for n, x := range s.users {
		users[n] = x
	}
	deleted := 0
	for _, n := range names {
		if _, ok := users[string(n)]; ok {
			delete(users, string(n))
			deleted++
		}
	}
	if deleted > 0 {
		us.install(users, s.version)
	}
	return deleted, nil
}

// SetRequirePass applies the requirepass setting to the default user as
// Redis does: resetpass, then >password, or nopass for an empty password.
func (us *Users) SetRequirePass(password []byte) {
	rules := [][]byte{[]byte("resetpass"), []byte("nopass")}
	if len(password) > 0 {
		rules[1] = append([]byte{'>'}, password...)
	}
	_ = us.SetUser([]byte(DefaultUser), rules) // these rules cannot fail
}

// mergeSelectors joins a selector spread over several arguments into
// one, as Redis's ACLMergeSelectorArguments does: an argument starting
// with '(' and not ending with ')' opens it, one ending with ')' closes
// it, and the parts are joined with spaces.
func mergeSelectors(args [][]byte) ([][]byte, error) {
	out := make([][]byte, 0, len(args))
	var sel []byte
	open := -1
	for j, a := range args {
		if open < 0 && len(a) > 0 && a[0] == '(' && a[len(a)-1] != ')' {
			sel = append([]byte(nil), a...)
			open = j
			continue
		}
		if open >= 0 {
			sel = append(append(sel, ' '), a...)
			if len(a) > 0 && a[len(a)-1] == ')' {
				out = append(out, sel)
				open, sel = -1, nil
			}
			continue
		}
		out = append(out, append([]byte(nil), a...))
	}
	if open >= 0 {
		return nil, &ParenError{Arg: append([]byte(nil), args[open]...)}
	}
	return out, nil
}
