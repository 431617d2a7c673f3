package store

import "github.com/raftcache/raftcache/resp"

func init() { registerInternal(CmdACL, true, cmdACL) }

// CmdACL is the internal write command that carries a change to the
// cluster's ACL users through a shard's Raft log:
//
//	raftcache.acl <op>
//
// The store does not know what op means: it hands it to the hook set
// with SetACLHook (on the shard that holds the users, shard 0) and
// replies what the hook replies. Without a hook it is an error reply.
// The hook runs inside Apply, in log order, under the store's lock: it
// must be deterministic and must not call back into the store.
const CmdACL = "raftcache.acl"

// ACLArgs returns the arguments of a CmdACL write carrying op.
func ACLArgs(op []byte) [][]byte { return [][]byte{[]byte(CmdACL), op} }

// SetACLHook sets the function that applies CmdACL writes (nil: none).
// Call it before the store applies anything.
func (s *Store) SetACLHook(fn func(op []byte) resp.Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aclHook = fn
}

func cmdACL(x exec, a [][]byte) resp.Reply {
	if len(a) != 2 {
		return resp.ErrInternalArgs(CmdACL).Reply()
	}
	if x.s.aclHook == nil {
		return resp.ErrNoACLShard.Reply()
	}
	return x.s.aclHook(a[1])
}
