// Nothing at all: compiled, it weighs what `bun build --compile` costs before
// any program code (the runtime plus the fixed overhead of a compiled file).
export {}
