package acl

import (
	"strings"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// keyPerm is what a key pattern grants: read, write or both.
type keyPerm uint8

const (
	permRead keyPerm = 1 << iota
	permWrite
	permAll = permRead | permWrite
)

// keyPattern is one ~, %R~, %W~ or %RW~ rule.
type keyPattern struct {
	pattern string
	perm    keyPerm
	glob    store.Glob // compiled once; immutable
}

// String writes the pattern as Redis describes it: "~p", "%R~p", "%W~p".
func (k keyPattern) String() string {
	switch k.perm {
	case permRead:
		return "%R~" + k.pattern
	case permWrite:
		return "%W~" + k.pattern
	}
	return "~" + k.pattern
}

// selector is one set of command, key and channel permissions: a user's
// root selector or one of its "(...)" selectors. A selector is never
// changed once its user is published in a Users set; rules are applied
// to a clone.
type selector struct {
	allKeys, allChannels bool
	// future is Redis's reserved command bit: set by +@all (allcommands),
	// cleared by -@all (nocommands). It decides whether the rules are
	// described from +@all or from -@all.
	future bool
	// allowed has a bit per resp.Command.ID.
	allowed []uint64
	// firstArgs are the first arguments allowed for a command (by ID)
	// whose bit is clear: "+select|0".
	firstArgs map[int][]string
	patterns  []keyPattern
	channels  []string
	// rules are the command rules in the order they were given, each
	// with its '+' or '-', lower-cased, superseded ones removed: Redis
	// 7.2's command_rules, from which ACL LIST and GETUSER describe the
	// selector.
	rules []string
}

func newSelector() *selector {
	return &selector{allowed: make([]uint64, commandTable().words)}
}

func (s *selector) clone() *selector {
	c := *s
	c.allowed = append([]uint64(nil), s.allowed...)
	c.patterns = append([]keyPattern(nil), s.patterns...)
	c.channels = append([]string(nil), s.channels...)
	c.rules = append([]string(nil), s.rules...)
	if s.firstArgs != nil {
		c.firstArgs = make(map[int][]string, len(s.firstArgs))
		for id, args := range s.firstArgs {
			c.firstArgs[id] = append([]string(nil), args...)
		}
	}
	return &c
}

func (s *selector) bit(id int) bool { return s.allowed[id/64]&(1<<(id%64)) != 0 }

func (s *selector) setBit(id int, on bool) {
	if on {
		s.allowed[id/64] |= 1 << (id % 64)
	} else {
		s.allowed[id/64] &^= 1 << (id % 64)
	}
}

// changePerm allows or denies cmd and, for a container, all its
// subcommands, forgetting cmd's allowed first arguments
// (ACLChangeSelectorPerm).
func (s *selector) changePerm(cmd *resp.Command, allow bool) {
	s.setBit(cmd.ID, allow)
	delete(s.firstArgs, cmd.ID)
	for _, sub := range cmd.Subcommands {
		s.setBit(sub.ID, allow)
	}
}

// setCategory applies +@cat or -@cat to every command and subcommand of
// the category.
func (s *selector) setCategory(bit uint32, allow bool) {
	t := commandTable()
	for id, c := range t.cmds {
		if t.cats[id]&bit != 0 {
			s.changePerm(c, allow)
		}
	}
}

// updateRules records a command rule, dropping the rules it supersedes:
// the same rule, and the rules of a container's subcommands when the
// rule names the container (ACLUpdateCommandRules).
func (s *selector) updateRules(rule string, allow bool) {
	rule = strings.ToLower(rule)
	kept := s.rules[:0]
	for _, r := range s.rules {
		old := r[1:]
		if old == rule || len(old) > len(rule) && old[:len(rule)] == rule && old[len(rule)] == '|' {
			continue
		}
		kept = append(kept, r)
	}
	sign := "-"
	if allow {
		sign = "+"
	}
	s.rules = append(kept, sign+rule)
}

func (s *selector) setAllCommands(on bool) {
	var fill uint64
	if on {
		fill = ^uint64(0)
	}
	for i := range s.allowed {
		s.allowed[i] = fill
	}
	s.future = on
	s.rules = nil
	s.firstArgs = nil
}

// hasSpace reports whether b holds a byte C's isspace accepts or a NUL,
// which Redis refuses in user names and patterns.
func hasSpace(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\v', '\f', '\r', 0:
			return true
		}
	}
	return false
}

// apply applies one selector rule (ACLSetSelector). It returns "" or the
// reason Redis gives for refusing the rule, and whether the refusal is
// Redis's ENOENT (an unknown command or category).
func (s *selector) apply(op []byte) (reason string, unknown bool) {
	str := string(op)
	switch {
	case strings.EqualFold(str, "allkeys") || str == "~*":
		s.allKeys = true
		s.patterns = nil
	case strings.EqualFold(str, "resetkeys"):
		s.allKeys = false
		s.patterns = nil
	case strings.EqualFold(str, "allchannels") || str == "&*":
		s.allChannels = true
		s.channels = nil
	case strings.EqualFold(str, "resetchannels"):
		s.allChannels = false
		s.channels = nil
	case strings.EqualFold(str, "allcommands") || strings.EqualFold(str, "+@all"):
		s.setAllCommands(true)
	case strings.EqualFold(str, "nocommands") || strings.EqualFold(str, "-@all"):
		s.setAllCommands(false)
	case len(op) > 0 && (op[0] == '~' || op[0] == '%'):
		return s.addKeyPattern(op), false
	case len(op) > 0 && op[0] == '&':
		if s.allChannels {
			return reasonChannelsAfterAll, false
		}
		if hasSpace(op[1:]) {
			return reasonSyntax, false
		}
		pat := str[1:]
		for _, c := range s.channels {
			if c == pat {
				return "", false
			}
		}
		s.channels = append(s.channels, pat)
	case len(op) > 0 && op[0] == '+' && (len(op) == 1 || op[1] != '@'):
		return s.allowCommand(str[1:])
	case len(op) > 0 && op[0] == '-' && (len(op) == 1 || op[1] != '@'):
		cmd := commandTable().lookup(str[1:])
		if cmd == nil {
			return reasonUnknown, true
		}
		s.changePerm(cmd, false)
		s.updateRules(cmd.FullName, false)
	case len(op) > 1 && (op[0] == '+' || op[0] == '-') && op[1] == '@':
		bit := categoryBit(str[2:])
		if bit == 0 {
			return reasonUnknown, true
		}
		s.updateRules(str[1:], op[0] == '+')
		s.setCategory(bit, op[0] == '+')
	default:
		return reasonSyntax, false
	}
	return "", false
}

// addKeyPattern applies ~pattern, %R~pattern, %W~pattern or %RW~pattern.
func (s *selector) addKeyPattern(op []byte) string {
	if s.allKeys {
		return reasonKeysAfterAll
	}
	perm, off := permAll, 1
	if op[0] == '%' {
		perm = 0
		for ; off < len(op); off++ {
			c := op[off] &^ 0x20 // ASCII upper case
			if c == 'R' && perm&permRead == 0 {
				perm |= permRead
			} else if c == 'W' && perm&permWrite == 0 {
				perm |= permWrite
			} else if op[off] == '~' && perm != 0 {
				off++
				break
			} else {
				return reasonSyntax
			}
		}
		// A bare "%" grants nothing; Redis 7.2 stores it as an empty
		// pattern and later aborts describing it, so it is refused here.
		if perm == 0 {
			return reasonSyntax
		}
	}
	if hasSpace(op[off:]) {
		return reasonSyntax
	}
	pat := string(op[off:])
	for i := range s.patterns {
		if s.patterns[i].pattern == pat {
			s.patterns[i].perm |= perm
			return ""
		}
	}
	s.patterns = append(s.patterns, keyPattern{pattern: pat, perm: perm,
		glob: store.CompileGlob([]byte(pat), false)})
	return ""
}

// allowCommand applies +name, +container|sub or +command|first-arg.
func (s *selector) allowCommand(name string) (reason string, unknown bool) {
	t := commandTable()
	bar := strings.LastIndexByte(name, '|')
	if bar < 0 {
		cmd := t.lookup(name)
		if cmd == nil {
			return reasonUnknown, true
		}
		s.changePerm(cmd, true)
		s.updateRules(cmd.FullName, true)
		return "", false
	}
	cmd := t.lookup(name[:bar])
	if cmd == nil {
		return reasonUnknown, true
	}
	if t.parent[cmd.ID] != nil {
		return reasonSubFirstArg, false
	}
	first := name[bar+1:]
	if first == "" {
		return reasonSyntax, false
	}
	if cmd.Subcommands != nil {
		sub := t.lookup(name)
		if sub == nil {
			return reasonUnknown, true
		}
		s.changePerm(sub, true)
	} else {
		// A first argument with a space would not survive the aclfile,
		// which splits on spaces; Redis 7.2 takes it and then aborts
		// describing the user.
		if hasSpace([]byte(first)) {
			return reasonSyntax, false
		}
		s.addFirstArg(cmd.ID, first)
	}
	s.updateRules(name, true)
	return "", false
}

func (s *selector) addFirstArg(id int, arg string) {
	for _, a := range s.firstArgs[id] {
		if strings.EqualFold(a, arg) {
			return
		}
	}
	if s.firstArgs == nil {
		s.firstArgs = map[int][]string{}
	}
	s.firstArgs[id] = append(s.firstArgs[id], arg)
}

// describeCommands is the selector's command rules as ACL GETUSER and
// ACL LIST print them (ACLDescribeSelectorCommandRules).
func (s *selector) describeCommands() string {
	var b strings.Builder
	if s.future {
		b.WriteString("+@all")
	} else {
		b.WriteString("-@all")
	}
	for _, r := range s.rules {
		b.WriteByte(' ')
		b.WriteString(r)
	}
	return b.String()
}

// describeKeys is the "keys" field of ACL GETUSER.
func (s *selector) describeKeys() string {
	if s.allKeys {
		return "~*"
	}
	parts := make([]string, len(s.patterns))
	for i, p := range s.patterns {
		parts[i] = p.String()
	}
	return strings.Join(parts, " ")
}

// describeChannels is the "channels" field of ACL GETUSER.
func (s *selector) describeChannels() string {
	if s.allChannels {
		return "&*"
	}
	parts := make([]string, len(s.channels))
	for i, c := range s.channels {
		parts[i] = "&" + c
	}
	return strings.Join(parts, " ")
}

// describe is the selector as ACL LIST prints it (ACLDescribeSelector).
func (s *selector) describe() string {
	var b strings.Builder
	if s.allKeys {
		b.WriteString("~* ")
	} else {
		for _, p := range s.patterns {
			b.WriteString(p.String())
			b.WriteByte(' ')
		}
	}
	if s.allChannels {
		b.WriteString("&* ")
	} else {
		b.WriteString("resetchannels ")
		for _, c := range s.channels {
			b.WriteString("&" + c + " ")
		}
	}
	b.WriteString(s.describeCommands())
	return b.String()
}

// reply is the selector's part of ACL GETUSER: commands, keys, channels.
func (s *selector) reply() []resp.Reply {
	return []resp.Reply{
		resp.BulkString("commands"), resp.BulkString(s.describeCommands()),
		resp.BulkString("keys"), resp.BulkString(s.describeKeys()),
		resp.BulkString("channels"), resp.BulkString(s.describeChannels()),
	}
}
