//! A small recursive-descent parser from normalised LaTeX to [`Node`]s, with a nesting limit.

use super::ast::{Func, Node, Rel};
use super::exact::Q;
use super::lexer::{Tok, tokenize};
use num_bigint::BigInt;
use num_traits::{One, Zero};

/// Why an answer could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The text is not an answer this parser understands.
    Syntax(String),
    /// The text exceeds a work limit (nesting depth, exponent of a literal).
    Budget(String),
}

/// Largest power-of-ten exponent accepted in a number literal such as `1e300`.
const MAX_LITERAL_EXPONENT: i64 = 4000;

const GREEK: [&str; 40] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
    "Pi",
    "hbar",
    "ell",
    "odot",
    "varrho",
    "varsigma",
];

/// Parses a normalised answer. `max_depth` bounds the nesting of groups and operators.
pub fn parse(text: &str, max_depth: usize) -> Result<Node, ParseError> {
    let toks = tokenize(text).map_err(ParseError::Syntax)?;
    if toks.is_empty() {
        return Err(ParseError::Syntax("empty answer".into()));
    }
    let has_words = toks.iter().any(|t| matches!(t, Tok::Word(_)));
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        max_depth,
    };
    let result = p.list().and_then(|node| {
        if p.pos < p.toks.len() {
            syntax(format!("unexpected {:?}", p.toks[p.pos]))
        } else {
            Ok(node)
        }
    });
    match result {
        // Words outside subscripts make the answer text.
        Err(ParseError::Syntax(_)) if has_words => Ok(Node::Text(text_key(text))),
        other => other,
    }
}

/// The comparison key of a text answer: lower-case letters and digits, without `\text`
/// wrappers, brackets, punctuation or a leading article.
pub fn text_key(text: &str) -> String {
    let mut s = text.to_string();
    for cmd in [
        "\\text", "\\textbf", "\\textit", "\\textrm", "\\mathrm", "\\mbox", "\\mathbf",
    ] {
        s = s.replace(cmd, " ");
    }
    let lower = s.to_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let skip = usize::from(words.len() > 1 && matches!(words[0].as_str(), "a" | "an" | "the"));
    words[skip..].join(" ")
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    max_depth: usize,
}

fn syntax<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError::Syntax(msg.into()))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_op(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Op(c))
    }

    fn is_cmd(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Cmd(n)) if n == name)
    }

    fn expect_op(&mut self, c: char) -> Result<(), ParseError> {
        if self.is_op(c) {
            self.pos += 1;
            Ok(())
        } else {
            syntax(format!("expected '{c}', found {:?}", self.peek()))
        }
    }

    fn expect_cmd(&mut self, name: &str) -> Result<(), ParseError> {
        if self.is_cmd(name) {
            self.pos += 1;
            Ok(())
        } else {
            syntax(format!("expected \\{name}, found {:?}", self.peek()))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(ParseError::Budget(format!(
                "nesting deeper than {} levels",
                self.max_depth
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// `item (, item)*` at the top level or inside brackets.
    fn list(&mut self) -> Result<Node, ParseError> {
        let mut items = vec![self.relation()?];
        while self.is_op(',') || self.is_op(';') {
            self.pos += 1;
            items.push(self.relation()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::List(vec![]))
        } else {
            Node::List(items)
        })
    }

    fn relop(&mut self) -> Option<Rel> {
        let rel = match self.peek()? {
            Tok::Op('=') => Rel::Eq,
            Tok::Op('<') => {
                if self.peek_at(1) == Some(&Tok::Op('=')) {
                    self.pos += 1;
                    Rel::Le
                } else {
                    Rel::Lt
                }
            }
            Tok::Op('>') => {
                if self.peek_at(1) == Some(&Tok::Op('=')) {
                    self.pos += 1;
                    Rel::Ge
                } else {
                    Rel::Gt
                }
            }
            Tok::Op('!') if self.peek_at(1) == Some(&Tok::Op('=')) => {
                self.pos += 1;
                Rel::Ne
            }
            Tok::Cmd(n) => match n.as_str() {
                "le" | "leq" | "leqslant" | "leqq" => Rel::Le,
                "ge" | "geq" | "geqslant" | "geqq" => Rel::Ge,
                "lt" => Rel::Lt,
                "gt" => Rel::Gt,
                "ne" | "neq" => Rel::Ne,
                "in" => Rel::In,
                "approx" | "simeq" => Rel::Approx,
                _ => return None,
            },
            _ => return None,
        };
        self.pos += 1;
        Some(rel)
    }

    /// `union (relop union)*`.
    fn relation(&mut self) -> Result<Node, ParseError> {
        let first = self.union()?;
        let mut rest = Vec::new();
        while let Some(rel) = self.relop() {
            rest.push((rel, self.union()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Node::Relation(Box::new(first), rest)
        })
    }

    /// `expr (\cup expr)*`.
    fn union(&mut self) -> Result<Node, ParseError> {
        let mut parts = vec![self.expr()?];
        while self.is_cmd("cup") {
            self.pos += 1;
            parts.push(self.expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Node::Union(vec![]))
        } else {
            Node::Union(parts)
        })
    }

    /// Sums, differences and `\pm`.
    fn expr(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let mut terms: Vec<Node> = Vec::new();
        let mut pm: Option<(Node, bool)> = None;
        let first = match self.peek() {
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Node::Neg(Box::new(self.term()?))
            }
            Some(Tok::Op('+')) => {
                self.pos += 1;
                self.term()?
            }
            Some(Tok::Cmd(n)) if n == "pm" || n == "mp" => {
                let minus_first = n == "mp";
                self.pos += 1;
                let t = self.term()?;
                pm = Some((t, minus_first));
                Node::int(0)
            }
            _ => self.term()?,
        };
        terms.push(first);
        loop {
            match self.peek() {
                Some(Tok::Op('+')) => {
                    self.pos += 1;
                    terms.push(self.term()?);
                }
                Some(Tok::Op('-')) => {
                    self.pos += 1;
                    terms.push(Node::Neg(Box::new(self.term()?)));
                }
                Some(Tok::Cmd(n)) if (n == "pm" || n == "mp") && pm.is_none() => {
                    let minus_first = n == "mp";
                    self.pos += 1;
                    pm = Some((self.term()?, minus_first));
                }
                _ => break,
            }
        }
        self.leave();
        let sum = if terms.len() == 1 {
            terms.pop().unwrap_or(Node::int(0))
        } else {
            Node::Add(terms)
        };
        Ok(match pm {
            None => sum,
            Some((t, false)) => Node::PlusMinus(Box::new(sum), Box::new(t)),
            Some((t, true)) => Node::PlusMinus(Box::new(sum), Box::new(Node::Neg(Box::new(t)))),
        })
    }

    /// Products and quotients, explicit or by juxtaposition.
    fn term(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let mut node = self.signed_factor()?;
        loop {
            match self.peek() {
                Some(Tok::Op('*')) => {
                    self.pos += 1;
                    let rhs = self.signed_factor()?;
                    node = mul(node, rhs);
                }
                Some(Tok::Cmd(n)) if n == "cdot" || n == "times" || n == "ast" => {
                    self.pos += 1;
                    let rhs = self.signed_factor()?;
                    node = mul(node, rhs);
                }
                Some(Tok::Op('/')) => {
                    self.pos += 1;
                    let rhs = self.signed_factor()?;
                    node = Node::Div(Box::new(node), Box::new(rhs));
                }
                Some(Tok::Cmd(n)) if n == "div" => {
                    self.pos += 1;
                    let rhs = self.signed_factor()?;
                    node = Node::Div(Box::new(node), Box::new(rhs));
                }
                Some(t) if starts_implicit(t) => {
                    if matches!(t, Tok::Num(_)) && ends_in_number(&node) {
                        break;
                    }
                    let rhs = self.power()?;
                    node = mul(node, rhs);
                }
                _ => break,
            }
        }
        self.leave();
        Ok(node)
    }

    fn signed_factor(&mut self) -> Result<Node, ParseError> {
        match self.peek() {
            Some(Tok::Op('-')) => {
                self.pos += 1;
                self.enter()?;
                let f = self.signed_factor()?;
                self.leave();
                Ok(Node::Neg(Box::new(f)))
            }
            Some(Tok::Op('+')) => {
                self.pos += 1;
                self.signed_factor()
            }
            _ => self.power(),
        }
    }

    /// `postfix (^ exponent)?`, followed by factorials.
    fn power(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let base = self.postfix()?;
        let mut node = if self.is_op('^') {
            self.pos += 1;
            let e = self.exponent()?;
            Node::Pow(Box::new(base), Box::new(e))
        } else {
            base
        };
        node = self.factorials(node);
        self.leave();
        Ok(node)
    }

    fn factorials(&mut self, mut node: Node) -> Node {
        while self.is_op('!') && self.peek_at(1) != Some(&Tok::Op('=')) {
            self.pos += 1;
            if self.is_op('!') && self.peek_at(1) != Some(&Tok::Op('=')) {
                self.pos += 1;
                node = Node::DoubleFact(Box::new(node));
            } else {
                node = Node::Fact(Box::new(node));
            }
        }
        node
    }

    fn postfix(&mut self) -> Result<Node, ParseError> {
        let p = self.primary()?;
        Ok(self.factorials(p))
    }

    /// The exponent after `^`: a braced group or a single (signed) token.
    fn exponent(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let e = match self.peek() {
            Some(Tok::Op('{')) => self.braced()?,
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Node::Neg(Box::new(self.exponent()?))
            }
            Some(Tok::Op('+')) => {
                self.pos += 1;
                self.exponent()?
            }
            _ => {
                let atom = self.primary()?;
                if self.is_op('^') {
                    self.pos += 1;
                    Node::Pow(Box::new(atom), Box::new(self.exponent()?))
                } else {
                    atom
                }
            }
        };
        self.leave();
        Ok(e)
    }

    /// `{ list }`.
    fn braced(&mut self) -> Result<Node, ParseError> {
        self.expect_op('{')?;
        if self.is_op('}') {
            return syntax("empty group");
        }
        let inner = self.list()?;
        self.expect_op('}')?;
        Ok(inner)
    }

    /// A macro argument: a braced group or a single token (one digit of a number).
    fn arg(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let node = match self.peek().cloned() {
            Some(Tok::Op('{')) => self.braced()?,
            Some(Tok::Num(s)) if s.len() > 1 && s.bytes().all(|c| c.is_ascii_digit()) => {
                // `\frac12`: the first digit only.
                self.toks[self.pos] = Tok::Num(s[1..].to_string());
                number(&s[..1])?
            }
            Some(Tok::Num(_)) | Some(Tok::Letter(_)) => self.primary_token()?,
            Some(Tok::Cmd(_)) => self.primary()?,
            other => return syntax(format!("missing argument, found {other:?}")),
        };
        self.leave();
        Ok(node)
    }

    /// A number or a variable with its subscript and primes.
    fn primary_token(&mut self) -> Result<Node, ParseError> {
        match self.next() {
            Some(Tok::Num(s)) => {
                if self.is_op('_') {
                    // A numeral in another base, `204_5`: an opaque atom.
                    let sub = self.subscript()?;
                    return Ok(Node::Sym(format!("{s}_{{{sub}}}")));
                }
                number(&s)
            }
            Some(Tok::Letter(name)) => self.symbol(name),
            other => syntax(format!("expected a number or a letter, found {other:?}")),
        }
    }

    fn symbol(&mut self, name: String) -> Result<Node, ParseError> {
        let mut full = name.clone();
        let mut decorated = false;
        if self.is_op('_') {
            let sub = self.subscript()?;
            full = format!("{full}_{{{sub}}}");
            decorated = true;
        }
        while self.is_op('\'') || self.is_cmd("prime") {
            self.pos += 1;
            full.push('\'');
            decorated = true;
        }
        if !decorated {
            match name.as_str() {
                "e" => return Ok(Node::E),
                "i" => return Ok(Node::I),
                _ => {}
            }
        }
        Ok(Node::Sym(full))
    }

    /// The text of a subscript after `_` (a braced group or one token), spaces removed.
    fn subscript(&mut self) -> Result<String, ParseError> {
        self.expect_op('_')?;
        if self.is_op('{') {
            let start = self.pos;
            let mut depth = 0usize;
            loop {
                match self.next() {
                    Some(Tok::Op('{')) => depth += 1,
                    Some(Tok::Op('}')) => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Some(_) => {}
                    None => return syntax("unbalanced subscript"),
                }
            }
            Ok(render(&self.toks[start + 1..self.pos - 1]))
        } else {
            match self.next() {
                Some(t @ (Tok::Num(_) | Tok::Letter(_) | Tok::Cmd(_))) => Ok(render(&[t])),
                other => syntax(format!("bad subscript {other:?}")),
            }
        }
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let node = self.primary_inner()?;
        self.leave();
        Ok(node)
    }

    fn primary_inner(&mut self) -> Result<Node, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return syntax("unexpected end");
        };
        match tok {
            Tok::Num(s) => {
                let n = self.primary_token()?;
                // A mixed number: `1\frac{4}{5}` is 1 + 4/5.
                if is_integer_literal(&s) && self.is_cmd("frac") && !self.is_op('_') {
                    let save = self.pos;
                    let f = self.primary()?;
                    if let Node::Div(a, b) = &f
                        && is_int_node(a)
                        && is_int_node(b)
                    {
                        return Ok(Node::Add(vec![n, f]));
                    }
                    self.pos = save;
                }
                Ok(n)
            }
            Tok::Letter(_) => self.primary_token(),
            Tok::Op('(') | Tok::Op('[') => self.bracketed(),
            Tok::Op('{') => self.braced(),
            Tok::Op('|') => {
                self.pos += 1;
                let inner = self.expr()?;
                self.expect_op('|')?;
                Ok(Node::Func(Func::Abs, vec![inner]))
            }
            Tok::Cmd(name) => {
                self.pos += 1;
                self.command(&name)
            }
            Tok::Word(w) => syntax(format!("text \"{w}\"")),
            other => syntax(format!("unexpected {other:?}")),
        }
    }

    /// `( ... )`, `[ ... ]`, `( ... ]`, `[ ... )`: a group, a tuple or an interval.
    fn bracketed(&mut self) -> Result<Node, ParseError> {
        let open = match self.next() {
            Some(Tok::Op(c)) => c,
            _ => return syntax("expected a bracket"),
        };
        let inner = self.list()?;
        let close = match self.next() {
            Some(Tok::Op(c @ (')' | ']'))) => c,
            other => return syntax(format!("unclosed bracket, found {other:?}")),
        };
        match inner {
            Node::List(items) => Ok(Node::Tuple { open, close, items }),
            single => {
                if (open == '(' && close == ')') || (open == '[' && close == ']') {
                    Ok(single)
                } else {
                    syntax("mismatched brackets around a single value")
                }
            }
        }
    }

    fn command(&mut self, name: &str) -> Result<Node, ParseError> {
        if GREEK.contains(&name) {
            return self.symbol(format!("\\{name}"));
        }
        if matches!(name, "dot" | "ddot" | "hat" | "tilde" | "vec" | "bar") {
            let start = self.pos;
            self.arg()?;
            let inner = render(&self.toks[start..self.pos]);
            let inner = inner.trim_start_matches('{').trim_end_matches('}');
            return self.symbol(format!("\\{name}{{{inner}}}"));
        }
        match name {
            "pi" => Ok(Node::Pi),
            "infty" => Ok(Node::Inf),
            "frac" => {
                let a = self.arg()?;
                let b = self.arg()?;
                Ok(Node::Div(Box::new(a), Box::new(b)))
            }
            "binom" => {
                let a = self.arg()?;
                let b = self.arg()?;
                Ok(Node::Func(Func::Binom, vec![a, b]))
            }
            "sqrt" => {
                if self.is_op('[') {
                    self.pos += 1;
                    let n = self.expr()?;
                    self.expect_op(']')?;
                    let x = self.arg()?;
                    Ok(Node::Func(Func::Root, vec![n, x]))
                } else {
                    Ok(Node::Func(Func::Sqrt, vec![self.arg()?]))
                }
            }
            "lfloor" | "lceil" => {
                let inner = self.expr()?;
                let (close, f) = if name == "lfloor" {
                    ("rfloor", Func::Floor)
                } else {
                    ("rceil", Func::Ceil)
                };
                self.expect_cmd(close)?;
                Ok(Node::Func(f, vec![inner]))
            }
            "{" => {
                if self.is_cmd("}") {
                    self.pos += 1;
                    return Ok(Node::Set(vec![]));
                }
                let inner = self.list()?;
                self.expect_cmd("}")?;
                Ok(Node::Set(match inner {
                    Node::List(items) => items,
                    single => vec![single],
                }))
            }
            "begin" => self.matrix(),
            "floor" | "ceil" | "gcd" | "lcm" | "max" | "min" | "exp" | "ln" | "log" | "sin"
            | "cos" | "tan" | "cot" | "sec" | "csc" | "arcsin" | "arccos" | "arctan" | "sinh"
            | "cosh" | "tanh" | "abs" => self.function(name),
            _ => syntax(format!("unsupported command \\{name}")),
        }
    }

    fn function(&mut self, name: &str) -> Result<Node, ParseError> {
        let mut func = match name {
            "floor" => Func::Floor,
            "ceil" => Func::Ceil,
            "gcd" => Func::Gcd,
            "lcm" => Func::Lcm,
            "max" => Func::Max,
            "min" => Func::Min,
            "exp" => Func::Exp,
            "ln" => Func::Ln,
            "log" => Func::Ln,
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "cot" => Func::Cot,
            "sec" => Func::Sec,
            "csc" => Func::Csc,
            "arcsin" => Func::Asin,
            "arccos" => Func::Acos,
            "arctan" => Func::Atan,
            "sinh" => Func::Sinh,
            "cosh" => Func::Cosh,
            "tanh" => Func::Tanh,
            _ => Func::Abs,
        };
        let mut base = None;
        let mut power = None;
        for _ in 0..2 {
            if self.is_op('_') && func == Func::Ln {
                self.pos += 1;
                base = Some(self.arg()?);
            } else if self.is_op('^') {
                self.pos += 1;
                let e = self.exponent()?;
                if e == Node::Neg(Box::new(Node::int(1))) {
                    func = match func {
                        Func::Sin => Func::Asin,
                        Func::Cos => Func::Acos,
                        Func::Tan => Func::Atan,
                        f => {
                            power = Some(e);
                            f
                        }
                    };
                } else {
                    power = Some(e);
                }
            }
        }
        let args = if self.is_op('(') {
            self.pos += 1;
            let inner = self.list()?;
            self.expect_op(')')?;
            match inner {
                Node::List(items) => items,
                single => vec![single],
            }
        } else if self.is_op('{') {
            vec![self.braced()?]
        } else {
            vec![self.implicit_argument()?]
        };
        let multi = matches!(func, Func::Gcd | Func::Lcm | Func::Max | Func::Min);
        if args.is_empty() || (!multi && args.len() != 1) {
            return syntax(format!("\\{name} takes one argument"));
        }
        let mut node = match base {
            Some(b) => Node::Func(
                Func::LogBase,
                vec![b, args.into_iter().next().unwrap_or(Node::int(0))],
            ),
            None => Node::Func(func, args),
        };
        if let Some(p) = power {
            node = Node::Pow(Box::new(node), Box::new(p));
        }
        Ok(node)
    }

    /// `\sin 2x`, `\ln 2`: factors joined by juxtaposition, up to the next function or operator.
    fn implicit_argument(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let mut node = match self.peek() {
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Node::Neg(Box::new(self.power()?))
            }
            _ => self.power()?,
        };
        while let Some(t) = self.peek() {
            let is_function = matches!(t, Tok::Cmd(n) if is_function_name(n));
            if !starts_implicit(t)
                || is_function
                || (matches!(t, Tok::Num(_)) && ends_in_number(&node))
            {
                break;
            }
            let rhs = self.power()?;
            node = mul(node, rhs);
        }
        self.leave();
        Ok(node)
    }

    /// `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (also bmatrix, Bmatrix, matrix, array).
    fn matrix(&mut self) -> Result<Node, ParseError> {
        let env = self.env_name()?;
        if !matches!(
            env.as_str(),
            "pmatrix" | "bmatrix" | "Bmatrix" | "matrix" | "smallmatrix" | "array"
        ) {
            return syntax(format!("unsupported environment {env}"));
        }
        if env == "array" && self.is_op('{') {
            while !self.is_op('}') {
                if self.next().is_none() {
                    return syntax("unterminated array column spec");
                }
            }
            self.pos += 1;
        }
        let mut rows: Vec<Vec<Node>> = Vec::new();
        let mut row: Vec<Node> = Vec::new();
        loop {
            if self.is_cmd("end") {
                self.pos += 1;
                let end = self.env_name()?;
                if end != env {
                    return syntax("mismatched \\end");
                }
                if !row.is_empty() {
                    rows.push(row);
                }
                break;
            }
            if self.peek() == Some(&Tok::RowSep) {
                self.pos += 1;
                rows.push(std::mem::take(&mut row));
                continue;
            }
            row.push(self.relation()?);
            if self.is_op('&') {
                self.pos += 1;
                if self.is_cmd("end") || self.peek() == Some(&Tok::RowSep) {
                    return syntax("empty matrix cell");
                }
            } else if !(self.is_cmd("end") || self.peek() == Some(&Tok::RowSep)) {
                return syntax(format!("unexpected {:?} in matrix", self.peek()));
            }
        }
        let cols = rows.first().map_or(0, Vec::len);
        if cols == 0 || rows.iter().any(|r| r.len() != cols) {
            return syntax("ragged or empty matrix");
        }
        Ok(Node::Matrix(rows))
    }

    fn env_name(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Some(Tok::Env(name)) => Ok(name),
            other => syntax(format!("bad environment name {other:?}")),
        }
    }
}

fn is_function_name(n: &str) -> bool {
    matches!(
        n,
        "sin"
            | "cos"
            | "tan"
            | "cot"
            | "sec"
            | "csc"
            | "arcsin"
            | "arccos"
            | "arctan"
            | "sinh"
            | "cosh"
            | "tanh"
            | "ln"
            | "log"
            | "exp"
    )
}

/// Whether a token can start a factor multiplied by juxtaposition.
fn starts_implicit(t: &Tok) -> bool {
    match t {
        Tok::Num(_) | Tok::Letter(_) | Tok::Op('(') | Tok::Op('{') => true,
        Tok::Cmd(n) => {
            GREEK.contains(&n.as_str())
                || is_function_name(n)
                || matches!(
                    n.as_str(),
                    "pi" | "frac"
                        | "sqrt"
                        | "binom"
                        | "lfloor"
                        | "lceil"
                        | "infty"
                        | "floor"
                        | "ceil"
                        | "gcd"
                        | "lcm"
                        | "max"
                        | "min"
                )
        }
        _ => false,
    }
}

/// Whether a node ends in a bare number literal (so a following number is not a product).
fn ends_in_number(n: &Node) -> bool {
    match n {
        Node::Num { .. } => true,
        Node::Mul(v) => v.last().is_some_and(ends_in_number),
        Node::Neg(a) => ends_in_number(a),
        _ => false,
    }
}

fn mul(a: Node, b: Node) -> Node {
    match a {
        Node::Mul(mut v) => {
            v.push(b);
            Node::Mul(v)
        }
        a => Node::Mul(vec![a, b]),
    }
}

fn is_integer_literal(s: &str) -> bool {
    s.bytes().all(|c| c.is_ascii_digit())
}

fn is_int_node(n: &Node) -> bool {
    matches!(n, Node::Num { value, decimal: false } if value.is_integer())
}

/// The exact value of a number literal (`12`, `0.5`, `.35`, `4.5e33`, `1e-5`).
fn number(s: &str) -> Result<Node, ParseError> {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(k) => {
            let e: i64 = s[k + 1..]
                .parse()
                .map_err(|_| ParseError::Syntax(format!("bad exponent in {s}")))?;
            (&s[..k], Some(e))
        }
        None => (s, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mantissa, ""),
    };
    let digits = format!("{int_part}{frac_part}");
    let num: BigInt = if digits.is_empty() {
        BigInt::zero()
    } else {
        digits
            .parse()
            .map_err(|_| ParseError::Syntax(format!("bad number {s}")))?
    };
    let mut ten_exp = exp.unwrap_or(0) - frac_part.len() as i64;
    if ten_exp.abs() > MAX_LITERAL_EXPONENT {
        return Err(ParseError::Budget(format!(
            "number literal {s} is too large"
        )));
    }
    let mut value = Q::from_integer(num);
    let ten = Q::from_integer(BigInt::from(10));
    let mut scale = Q::one();
    while ten_exp != 0 {
        scale *= &ten;
        ten_exp -= ten_exp.signum();
    }
    if exp.unwrap_or(0) - (frac_part.len() as i64) < 0 {
        value /= scale;
    } else {
        value *= scale;
    }
    Ok(Node::Num {
        value,
        decimal: mantissa.contains('.') || exp.is_some(),
    })
}

/// Renders tokens back to compact text (for subscripts).
fn render(toks: &[Tok]) -> String {
    let mut out = String::new();
    for t in toks {
        match t {
            Tok::Num(s) | Tok::Letter(s) | Tok::Word(s) => out.push_str(s),
            Tok::Cmd(s) => {
                out.push('\\');
                out.push_str(s);
            }
            Tok::Op(c) => out.push(*c),
            Tok::RowSep => out.push_str("\\\\"),
            Tok::Env(s) => out.push_str(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse(s, 64).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn r(n: i64, d: i64) -> Q {
        Q::new(n.into(), d.into())
    }

    #[test]
    fn numbers() {
        assert_eq!(p("12"), Node::int(12));
        assert_eq!(
            p("0.5"),
            Node::Num {
                value: r(1, 2),
                decimal: true
            }
        );
        assert_eq!(
            p(".35"),
            Node::Num {
                value: r(7, 20),
                decimal: true
            }
        );
        assert_eq!(
            p("1e-3"),
            Node::Num {
                value: r(1, 1000),
                decimal: true
            }
        );
        assert!(matches!(parse("1e99999", 64), Err(ParseError::Budget(_))));
    }

    #[test]
    fn fractions_and_roots_without_braces() {
        assert_eq!(
            p("\\frac12"),
            Node::Div(Box::new(Node::int(1)), Box::new(Node::int(2)))
        );
        assert_eq!(p("\\sqrt2"), Node::Func(Func::Sqrt, vec![Node::int(2)]));
        assert_eq!(
            p("\\frac123"),
            Node::Mul(vec![
                Node::Div(Box::new(Node::int(1)), Box::new(Node::int(2))),
                Node::int(3)
            ])
        );
        assert_eq!(
            p("1\\frac{4}{5}"),
            Node::Add(vec![
                Node::int(1),
                Node::Div(Box::new(Node::int(4)), Box::new(Node::int(5)))
            ])
        );
    }

    #[test]
    fn structures() {
        assert!(matches!(
            p("(1,2]"),
            Node::Tuple {
                open: '(',
                close: ']',
                ..
            }
        ));
        assert!(matches!(p("\\{1,2\\}"), Node::Set(v) if v.len() == 2));
        assert!(matches!(p("1,2,3"), Node::List(v) if v.len() == 3));
        assert!(matches!(p("(0,9) \\cup (9,36)"), Node::Union(v) if v.len() == 2));
        assert!(matches!(p("y = 2x+3"), Node::Relation(_, v) if v.len() == 1));
        assert!(
            matches!(p("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}"), Node::Matrix(m) if m.len() == 2)
        );
        assert!(matches!(p("1 \\pm \\sqrt{19}"), Node::PlusMinus(..)));
        assert_eq!(p("\\text{Evelyn}"), Node::Text("evelyn".into()));
    }

    #[test]
    fn functions() {
        assert!(matches!(p("\\sin^2 x"), Node::Pow(..)));
        assert!(matches!(p("\\log_{2} 8"), Node::Func(Func::LogBase, _)));
        assert!(matches!(p("\\sin x \\cos x"), Node::Mul(v) if v.len() == 2));
        assert_eq!(p("x_{1}"), Node::Sym("x_{1}".into()));
        assert_eq!(p("204_5"), Node::Sym("204_{5}".into()));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "(".repeat(500) + "1" + &")".repeat(500);
        assert!(matches!(parse(&deep, 64), Err(ParseError::Budget(_))));
        assert!(matches!(parse("2 3", 64), Err(ParseError::Syntax(_))));
    }
}
