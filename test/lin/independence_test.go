package lin

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsNothingOfRaftcache keeps the checker apart from what it
// checks: a bug shared by the server and the model would pass unseen.
// Only the standard library, porcupine and go-redis may be imported.
func TestImportsNothingOfRaftcache(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	for _, f := range files {
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/raftcache/") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}
