package acl

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/raftcache/raftcache/resp"
)

// DefaultUser is the name of the user every connection starts as.
const DefaultUser = "default"

// User is one ACL user: its flags, password hashes and selectors. A User
// is immutable once it is in a Users set (ACL SETUSER builds a changed
// copy), so any number of goroutines may read it, and a connection may
// keep the *User it authenticated as: it sees the rules of that moment
// until it asks its Users for the current ones (see Users.Version).
type User struct {
	name     string
	enabled  bool
	noPass   bool
	skipSani bool
	// passwords are SHA-256 hashes in lower-case hex, in the order added.
	passwords []string
	// selectors[0] is the root selector, the rules given outside
	// parentheses; the others are the "(...)" selectors in order.
	selectors []*selector
}

// newUser returns a user as Redis creates one: off, no passwords, no
// keys, no channels (acl-pubsub-default resetchannels), no commands.
func newUser(name string) *User {
	return &User{name: name, selectors: []*selector{newSelector()}}
}

// newDefaultUser returns the default user as Redis starts with it:
// on nopass ~* &* +@all.
func newDefaultUser() *User {
	u := newUser(DefaultUser)
	for _, r := range []string{"+@all", "~*", "&*", "on", "nopass"} {
		u.apply([]byte(r))
	}
	return u
}

func (u *User) clone() *User {
	c := *u
	c.passwords = append([]string(nil), u.passwords...)
	c.selectors = make([]*selector, len(u.selectors))
	for i, s := range u.selectors {
		c.selectors[i] = s.clone()
	}
	return &c
}

// Name returns the user's name.
func (u *User) Name() string { return u.name }

// Enabled reports whether the user is on: only then can it authenticate.
func (u *User) Enabled() bool { return u.enabled }

// NoPass reports whether any password authenticates the user. For the
// default user it also means a new connection needs no AUTH (when the
// user is enabled) and that AUTH with only a password is an error.
func (u *User) NoPass() bool { return u.noPass }

// SkipSanitizePayload reports the skip-sanitize-payload flag (RESTORE,
// which raftcache does not serve).
func (u *User) SkipSanitizePayload() bool { return u.skipSani }

// hashPassword is Redis's ACLHashPassword: SHA-256 in lower-case hex.
func hashPassword(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

// validHash reports whether h is 64 lower-case hex digits.
func validHash(h []byte) bool {
	if len(h) != 64 {
		return false
	}
	for _, c := range h {
		if (c < 'a' || c > 'f') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// CheckPassword reports whether password authenticates the user: it must
// be enabled, and nopass or holding the password's hash. The hashes are
// compared in constant time.
func (u *User) CheckPassword(password []byte) bool {
	if !u.enabled {
		return false
	}
	if u.noPass {
		return true
	}
	h := []byte(hashPassword(password))
	ok := 0
	for _, p := range u.passwords {
		ok |= subtle.ConstantTimeCompare(h, []byte(p))
	}
	return ok == 1
}

// apply applies one ACL SETUSER modifier (Redis's ACLSetUser), returning
// "" or the reason it was refused and whether that is Redis's ENOENT.
func (u *User) apply(op []byte) (reason string, unknown bool) {
	if len(op) == 0 {
		return "", false // an empty modifier does nothing, as in Redis
	}
	str := string(op)
	switch {
	case strings.EqualFold(str, "on"):
		u.enabled = true
	case strings.EqualFold(str, "off"):
		u.enabled = false
	case strings.EqualFold(str, "skip-sanitize-payload"):
		u.skipSani = true
	case strings.EqualFold(str, "sanitize-payload"):
		u.skipSani = false
	case strings.EqualFold(str, "nopass"):
		u.noPass = true
		u.passwords = nil
	case strings.EqualFold(str, "resetpass"):
		u.noPass = false
		u.passwords = nil
	case op[0] == '>' || op[0] == '#':
		var h string
		if op[0] == '>' {
			h = hashPassword(op[1:])
		} else {
			if !validHash(op[1:]) {
				return reasonBadHash, false
			}
			h = str[1:]
		}
		if !contains(u.passwords, h) {
			u.passwords = append(u.passwords, h)
		}
		u.noPass = false
	case op[0] == '<' || op[0] == '!':
		var h string
		if op[0] == '<' {
			h = hashPassword(op[1:])
		} else {
			if !validHash(op[1:]) {
				return reasonBadHash, false
			}
			h = str[1:]
		}
		i := index(u.passwords, h)
		if i < 0 {
			return reasonNoSuchPassword, false
		}
		u.passwords = append(u.passwords[:i:i], u.passwords[i+1:]...)
	case op[0] == '(' && op[len(op)-1] == ')' && len(op) >= 2:
		s := newSelector()
		for _, a := range splitArgs(op[1 : len(op)-1]) {
			if reason, unknown := s.apply(a); reason != "" {
				return reason, unknown
			}
		}
		u.selectors = append(u.selectors, s)
	case strings.EqualFold(str, "clearselectors"):
		u.selectors = u.selectors[:1]
	case strings.EqualFold(str, "reset"):
		for _, r := range []string{"resetpass", "resetkeys", "resetchannels", "off",
			"sanitize-payload", "clearselectors", "-@all"} {
			u.apply([]byte(r))
		}
	default:
		return u.selectors[0].apply(op)
	}
	return "", false
}

func contains(list []string, s string) bool { return index(list, s) >= 0 }

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// flagNames are the user's flags in Redis's order (ACLUserFlags).
func (u *User) flagNames() []string {
	var out []string
	if u.enabled {
		out = append(out, "on")
	} else {
		out = append(out, "off")
	}
	if u.noPass {
		out = append(out, "nopass")
	}
	if u.skipSani {
		out = append(out, "skip-sanitize-payload")
	} else {
		out = append(out, "sanitize-payload")
	}
	return out
}

// Describe returns the user's rules as ACL LIST prints them after
// "user <name> " (Redis's ACLDescribeUser): flags, password hashes, the
// root selector, then each selector in parentheses. Applied to a new
// user, the rules rebuild this user.
func (u *User) Describe() string {
	var b strings.Builder
	for _, f := range u.flagNames() {
		b.WriteString(f)
		b.WriteByte(' ')
	}
	for _, p := range u.passwords {
		b.WriteString("#" + p + " ")
	}
	b.WriteString(u.selectors[0].describe())
	for _, s := range u.selectors[1:] {
		b.WriteString(" (" + s.describe() + ")")
	}
	return b.String()
}

// Line returns the user as one line of ACL LIST and of the aclfile,
// without the newline: "user <name> <Describe()>".
func (u *User) Line() string { return "user " + u.name + " " + u.Describe() }

// Reply returns the ACL GETUSER reply for the user: a map (a flat array
// in RESP2) of flags (a set), passwords, commands, keys, channels of the
// root selector, and selectors (an array of maps).
func (u *User) Reply() resp.Reply {
	flags := u.flagNames()
	fl := make([]resp.Reply, len(flags))
	for i, f := range flags {
		fl[i] = resp.BulkString(f)
	}
	pw := make([]resp.Reply, len(u.passwords))
	for i, p := range u.passwords {
		pw[i] = resp.BulkString(p)
	}
	kv := []resp.Reply{resp.BulkString("flags"), resp.Set(fl...),
		resp.BulkString("passwords"), resp.Array(pw...)}
	kv = append(kv, u.selectors[0].reply()...)
	sels := make([]resp.Reply, 0, len(u.selectors)-1)
	for _, s := range u.selectors[1:] {
		sels = append(sels, resp.Map(s.reply()...))
	}
	kv = append(kv, resp.BulkString("selectors"), resp.Array(sels...))
	return resp.Map(kv...)
}
