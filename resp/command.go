package resp

import (
	"slices"
	"strings"
)

// Flag is a command flag from Redis's command table.
type Flag uint32

// Command flags, named as Redis names them in COMMAND INFO.
const (
	FlagWrite Flag = 1 << iota
	FlagReadOnly
	FlagDenyOOM
	FlagAdmin
	FlagPubSub
	FlagNoScript
	FlagBlocking
	FlagLoading
	FlagStale
	FlagSkipMonitor
	FlagSkipSlowlog
	FlagFast
	FlagNoAuth
	FlagMayReplicate
	FlagNoMulti
	FlagAllowBusy
	FlagNoAsyncLoading
	FlagTouchesArbitraryKeys
	FlagSentinel
	FlagProtected
)

// flagNames lists the flags in the order COMMAND INFO reports them. Redis
// hides may_replicate, sentinel, protected and touches_arbitrary_keys there
// (hidden is true).
var flagNames = []struct {
	f      Flag
	name   string
	hidden bool
}{
	{FlagWrite, "write", false}, {FlagReadOnly, "readonly", false},
	{FlagDenyOOM, "denyoom", false}, {FlagAdmin, "admin", false},
	{FlagPubSub, "pubsub", false}, {FlagNoScript, "noscript", false},
	{FlagBlocking, "blocking", false}, {FlagLoading, "loading", false},
	{FlagStale, "stale", false}, {FlagSkipMonitor, "skip_monitor", false},
	{FlagSkipSlowlog, "skip_slowlog", false}, {FlagFast, "fast", false},
	{FlagNoAuth, "no_auth", false}, {FlagMayReplicate, "may_replicate", true},
	{FlagSentinel, "sentinel", true}, {FlagProtected, "protected", true},
	{FlagNoAsyncLoading, "no_async_loading", false}, {FlagNoMulti, "no_multi", false},
	{FlagAllowBusy, "allow_busy", false},
	{FlagTouchesArbitraryKeys, "touches_arbitrary_keys", true},
}

// Names returns the flag names in Redis's COMMAND INFO order, skipping the
// ones Redis does not report there (may_replicate, sentinel, protected,
// touches_arbitrary_keys).
func (f Flag) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 && !fn.hidden {
			out = append(out, fn.name)
		}
	}
	return out
}

// KeyFlag describes how a command uses the keys of one key spec, as Redis 7
// key specs do.
type KeyFlag uint16

// Key spec flags, in the order COMMAND INFO reports them.
const (
	KeyRO            KeyFlag = 1 << iota // reads the value
	KeyRW                                // reads and changes the value
	KeyOW                                // overwrites the value without reading it
	KeyRM                                // deletes the key
	KeyAccess                            // returns or copies user data
	KeyUpdate                            // updates data in place
	KeyInsert                            // adds data, never changes or removes it
	KeyDelete                            // removes data
	KeyNotKey                            // names a key that is not accessed
	KeyIncomplete                        // the spec may miss keys
	KeyVariableFlags                     // the flags depend on other arguments
)

var keyFlagNames = [...]string{"RO", "RW", "OW", "RM", "access", "update", "insert",
	"delete", "not_key", "incomplete", "variable_flags"}

// Names returns the flag names as COMMAND INFO writes them.
func (f KeyFlag) Names() []string {
	var out []string
	for i, name := range keyFlagNames {
		if f&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// KeySpec is one Redis 7 key specification, restricted to the one shape
// every command raftcache serves has: the keys start at a fixed argument
// index ("begin_search" of type "index") and form a range ("find_keys" of
// type "range").
type KeySpec struct {
	Flags KeyFlag
	// Index is the argument index of the first key; the command name is
	// argument 0 (a subcommand's name is argument 1).
	Index int
	// LastKey is the last key relative to Index as Redis counts it: 0 for
	// Index itself, a positive offset from it, or a negative index from
	// the end of the arguments (-1 is the last argument).
	LastKey int
	// Step is the distance between keys (2 for MSET's key-value pairs).
	Step int
	// Limit, with LastKey -1, keeps 1/Limit of the remaining arguments; it
	// is 0 for every command raftcache serves.
	Limit int
	// Notes is raftcache's own short remark on the spec, or empty.
	Notes string
}

// Command describes one command (or one subcommand of a container command
// such as CLIENT) as Redis's command table does. Commands are read-only
// after package initialisation and safe to share.
type Command struct {
	// Name is the lower-case name; for a subcommand only its own part
	// ("setname"), with FullName holding "client|setname".
	Name     string
	FullName string
	// Arity counts the command name: a positive arity is exact, a negative
	// one is a minimum. A subcommand's arity counts the container's name.
	Arity int
	Flags Flag
	// FirstKey, LastKey and Step are the legacy key positions of COMMAND
	// INFO: LastKey -1 means the last argument, 0 means no keys. Register
	// derives them from KeySpecs as Redis does when FirstKey is 0.
	FirstKey, LastKey, Step int
	// KeySpecs locate the key arguments for COMMAND INFO.
	KeySpecs []KeySpec
	// ACL lists the ACL categories without the '@', in Redis's order.
	// Register adds the categories Redis implies from the flags (write,
	// read, admin, dangerous, fast or slow, ...), so a table entry names
	// only the explicit ones.
	ACL []string
	// Tips are the lower-case command tips of COMMAND INFO, such as
	// "nondeterministic_output" or "request_policy:all_shards".
	Tips []string
	// Group and Since are reported by COMMAND DOCS.
	Group, Since string
	// Summary is raftcache's own one-line description.
	Summary string
	// DocFlags ("deprecated", "syscmd"), DeprecatedSince and ReplacedBy
	// are reported by COMMAND DOCS when set.
	DocFlags        []string
	DeprecatedSince string
	ReplacedBy      string
	// Subcommands of a container command, keyed by lower-case name.
	Subcommands map[string]*Command
	// ID numbers the commands and subcommands of the table densely from
	// 0 in the order they were registered (NumCommands is one past the
	// last). It joins the table: each layer keeps what it adds to a
	// command — the store's handler, the server's handler and routing —
	// in a slice indexed by ID, so a command is looked up by name once.
	ID int
}

// HasFlag reports whether every flag in f is set on c.
func (c *Command) HasFlag(f Flag) bool { return c.Flags&f == f }

// IsWrite reports whether the command may change the keyspace.
func (c *Command) IsWrite() bool { return c.Flags&FlagWrite != 0 }

// CheckArity reports whether argc arguments (name included) fit the arity.
func (c *Command) CheckArity(argc int) bool {
	if c.Arity >= 0 {
		return argc == c.Arity
	}
	return argc >= -c.Arity
}

// KeyPositions appends to dst the indexes of the key arguments in args
// (args[0] is the command name) and returns it. It follows the legacy
// first/last/step positions, which describe every command raftcache serves.
func (c *Command) KeyPositions(dst []int, argc int) []int {
	if c.FirstKey <= 0 || argc <= c.FirstKey {
		return dst
	}
	last := c.LastKey
	if last < 0 {
		last = argc + last
	}
	if last >= argc {
		last = argc - 1
	}
	step := c.Step
	if step <= 0 {
		step = 1
	}
	for i := c.FirstKey; i <= last; i += step {
		dst = append(dst, i)
	}
	return dst
}

var commands = map[string]*Command{}

// Register adds cmd to the command table, filling FullName, the legacy key
// positions and the implied ACL categories of cmd and its subcommands. It is
// called from init functions only, and panics on a duplicate, which is a
// programming error.
func Register(cmd *Command) {
	if _, dup := commands[cmd.Name]; dup {
		panic("resp: command registered twice: " + cmd.Name)
	}
	if cmd.FullName == "" {
		cmd.FullName = cmd.Name
	}
	cmd.complete()
	for name, sub := range cmd.Subcommands {
		sub.Name = name
		sub.FullName = cmd.Name + "|" + name
		if sub.Group == "" {
			sub.Group = cmd.Group
		}
		sub.complete()
	}
	commands[cmd.Name] = cmd
	cmd.ID = len(byID)
	byID = append(byID, cmd)
	for _, name := range sortedKeys(cmd.Subcommands) {
		sub := cmd.Subcommands[name]
		sub.ID = len(byID)
		byID = append(byID, sub)
	}
}

// byID lists the commands and subcommands by ID.
var byID []*Command

// NumCommands is the number of commands and subcommands in the table: one
// past the highest ID. It is final once package initialisation is done.
func NumCommands() int { return len(byID) }

// ByID returns the command or subcommand with the given ID, or nil.
func ByID(id int) *Command {
	if id < 0 || id >= len(byID) {
		return nil
	}
	return byID[id]
}

func sortedKeys(m map[string]*Command) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// complete derives what Redis derives when it loads its command table.
func (c *Command) complete() {
	if c.FirstKey == 0 && len(c.KeySpecs) > 0 {
		c.FirstKey, c.LastKey, c.Step = legacyKeyRange(c.KeySpecs)
	}
	c.ACL = impliedACL(c.Flags, c.ACL)
}

// legacyKeyRange folds key specs into COMMAND INFO's first, last and step
// the way Redis's populateCommandLegacyRangeSpec does: a single spec is
// taken as it is; several specs are merged when each has step 1 and starts
// right after the previous one ends.
func legacyKeyRange(specs []KeySpec) (first, last, step int) {
	abs := func(s KeySpec) int {
		if s.LastKey < 0 {
			return s.LastKey
		}
		return s.Index + s.LastKey
	}
	if len(specs) == 1 {
		return specs[0].Index, abs(specs[0]), specs[0].Step
	}
	first, last = -1, 0
	prev := 0
	for _, s := range specs {
		if s.Step != 1 || (prev != 0 && prev != s.Index-1) {
			continue
		}
		if first < 0 || s.Index < first {
			first = s.Index
		}
		// Redis compares as unsigned, so a negative (from the end) last
		// key wins over any absolute one.
		if l := abs(s); uint(l) > uint(last) {
			last = l
		}
		prev = last
	}
	if first < 0 {
		return 0, 0, 0
	}
	return first, last, 1
}

// aclCategories lists Redis's ACL categories in its order, which is the
// order COMMAND INFO reports them in.
var aclCategories = []string{"keyspace", "read", "write", "set", "sortedset", "list",
	"hash", "string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin",
	"fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting"}

// impliedACL returns the explicit categories plus those Redis implies from
// the flags, in Redis's order, as a new slice.
func impliedACL(f Flag, explicit []string) []string {
	has := make(map[string]bool, len(explicit)+3)
	for _, c := range explicit {
		has[c] = true
	}
	if f&FlagWrite != 0 {
		has["write"] = true
	}
	if f&FlagReadOnly != 0 && !has["scripting"] {
		has["read"] = true
	}
	if f&FlagAdmin != 0 {
		has["admin"], has["dangerous"] = true, true
	}
	if f&FlagPubSub != 0 {
		has["pubsub"] = true
	}
	if f&FlagFast != 0 {
		has["fast"] = true
	}
	if f&FlagBlocking != 0 {
		has["blocking"] = true
	}
	if !has["fast"] {
		has["slow"] = true
	}
	out := make([]string, 0, len(has))
	for _, c := range aclCategories {
		if has[c] {
			out = append(out, c)
		}
	}
	return out
}

// Lookup finds a command by name, ignoring case, without allocating for
// names of ordinary length.
func Lookup(name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return commands[strings.ToLower(string(name))]
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return commands[string(buf[:len(name)])]
}

// LookupSub finds the subcommand of a container command, ignoring case.
func (c *Command) LookupSub(name []byte) *Command {
	if c.Subcommands == nil {
		return nil
	}
	return c.Subcommands[strings.ToLower(string(name))]
}

// Commands returns every registered top-level command, in no fixed order.
func Commands() []*Command {
	out := make([]*Command, 0, len(commands))
	for _, c := range commands {
		out = append(out, c)
	}
	return out
}
