package api_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The packages whose source says which error codes an endpoint can return
// (appstore: the Apple notifications use case, docs/contract.md §6).
const (
	transferPkg = "transfer"
	httpapiPkg  = "httpapi"
	appstorePkg = "appstore"
)

var sourceDirs = map[string]string{
	transferPkg: "../internal/transfer",
	httpapiPkg:  "../internal/httpapi",
	appstorePkg: "../internal/appstore",
}

const transferImport = "github.com/acme/purchase-transfer/internal/transfer"

// source is the parsed non-test code of internal/transfer, internal/httpapi
// and internal/appstore.
type source struct {
	// consts maps a type of package transfer (Code, Result, Status) or
	// appstore (Outcome) to its constants: name → value.
	consts map[string]map[string]string
	// funcs maps "pkg.Func" and "pkg.Recv.Method" to declarations.
	funcs map[string]*ast.FuncDecl
	// methods maps a method name to the keys of every method so named.
	methods map[string][]string
	// imports maps a file to its import names → paths.
	imports map[*ast.File]map[string]string
	// fileOf maps a declaration to its package and file.
	pkgOf  map[*ast.FuncDecl]string
	fileOf map[*ast.FuncDecl]*ast.File
}

var loadSource = sync.OnceValues(func() (*source, error) {
	src := &source{
		consts:  map[string]map[string]string{},
		funcs:   map[string]*ast.FuncDecl{},
		methods: map[string][]string{},
		imports: map[*ast.File]map[string]string{},
		pkgOf:   map[*ast.FuncDecl]string{},
		fileOf:  map[*ast.FuncDecl]*ast.File{},
	}
	fset := token.NewFileSet()
	for pkg, dir := range sourceDirs {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			src.addFile(pkg, f)
		}
	}
	if len(src.consts["Code"]) == 0 || len(src.consts["Result"]) == 0 || len(src.consts["Status"]) == 0 {
		return nil, fmt.Errorf("no Code/Result/Status constants found in %s: has the package moved?", sourceDirs[transferPkg])
	}
	return src, nil
})

func (src *source) addFile(pkg string, f *ast.File) {
	imports := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	src.imports[f] = imports
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			key := pkg + "." + d.Name.Name
			if d.Recv != nil && len(d.Recv.List) == 1 {
				key = pkg + "." + recvName(d.Recv.List[0].Type) + "." + d.Name.Name
				src.methods[d.Name.Name] = append(src.methods[d.Name.Name], key)
			}
			src.funcs[key] = d
			src.pkgOf[d] = pkg
			src.fileOf[d] = f
		case *ast.GenDecl:
			if d.Tok != token.CONST || pkg == httpapiPkg {
				continue
			}
			var typ string
			for _, spec := range d.Specs {
				vs := spec.(*ast.ValueSpec)
				switch {
				case vs.Type != nil:
					typ = exprName(vs.Type)
				case len(vs.Values) > 0:
					typ = "" // untyped
				}
				if typ == "" {
					continue
				}
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							if src.consts[typ] == nil {
								src.consts[typ] = map[string]string{}
							}
							src.consts[typ][n.Name] = v
						}
					}
				}
			}
		}
	}
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}

func exprName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func mustSource(t testing.TB) *source {
	t.Helper()
	src, err := loadSource()
	if err != nil {
		t.Fatalf("parse the code: %v", err)
	}
	return src
}

// values returns the values of the constants of one type, sorted.
func (src *source) values(typ string) []string {
	var out []string
	for _, v := range src.consts[typ] {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// reachableCodes walks the code from a root function and returns every error
// code (a constant of type transfer.Code) the walk meets, with the chain of
// functions that leads to it. The walk over-approximates what can run:
//   - a call or reference to a function of the three packages is followed;
//   - x.M, where x is not a package, follows every method M of the three
//     packages (interfaces are resolved by method name: the production
//     implementations of Acceptor and StatusReader live in internal/transfer,
//     that of NotificationReceiver in internal/appstore);
//   - ServeHTTP is only followed from a composite literal of its type, so
//     that one handler's code is not attributed to the other.
//
// So a code it reports may be one no request can really reach; the scenario
// tests then fail to produce it, and say so.
func (src *source) reachableCodes(root string) (map[string][]string, error) {
	codeNames := src.consts["Code"]
	found := map[string][]string{}
	seen := map[string]bool{}
	type item struct {
		key  string
		path []string
	}
	queue := []item{{key: root, path: []string{root}}}
	if src.funcs[root] == nil {
		return nil, fmt.Errorf("function %s not found", root)
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.key] {
			continue
		}
		seen[it.key] = true
		decl := src.funcs[it.key]
		pkg := src.pkgOf[decl]
		imports := src.imports[src.fileOf[decl]]
		follow := func(key string) {
			if src.funcs[key] != nil && !seen[key] {
				queue = append(queue, item{key: key, path: append(append([]string(nil), it.path...), key)})
			}
		}
		code := func(name string) {
			if v, ok := codeNames[name]; ok {
				if _, dup := found[v]; !dup {
					found[v] = it.path
				}
			}
		}
		ast.Inspect(decl, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && imports[id.Name] != "" {
					if imports[id.Name] == transferImport {
						code(x.Sel.Name)
						follow(transferPkg + "." + x.Sel.Name)
					}
					return false
				}
				if x.Sel.Name != "ServeHTTP" {
					for _, key := range src.methods[x.Sel.Name] {
						follow(key)
					}
				}
			case *ast.Ident:
				if pkg == transferPkg {
					code(x.Name)
				}
				follow(pkg + "." + x.Name)
			case *ast.CompositeLit:
				if id, ok := x.Type.(*ast.Ident); ok {
					follow(pkg + "." + id.Name + ".ServeHTTP")
				}
			}
			return true
		})
	}
	return found, nil
}
