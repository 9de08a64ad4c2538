//! The C expressions crash's `p` passes to gdb, as far as kernel work uses them:
//! names, numbers, `.`/`->` members, `[i]`, unary `*` and `&`, casts to a type
//! with pointer levels, `sizeof(TYPE)`, and `+`/`-`. Parsed by recursive descent
//! into an [`Expr`] tree; errors name what was expected and where.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Name(String),
    Number(u64),
    Member(Box<Expr>, String),
    Arrow(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Deref(Box<Expr>),
    AddrOf(Box<Expr>),
    Negate(Box<Expr>),
    Cast(TypeName, Box<Expr>),
    Sizeof(TypeName),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
}

/// A type as written in a cast: `struct file *`, `unsigned long`, `u64 **`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    /// The words before the stars (`struct file`, `unsigned long`).
    pub base: String,
    pub pointers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Number(u64),
    Punct(&'static str),
}

const PUNCT: [&str; 10] = ["->", "(", ")", "[", "]", ".", "*", "&", "+", "-"];

/// Words that begin a type name in a cast.
const TYPE_WORDS: [&str; 12] = [
    "struct", "union", "enum", "unsigned", "signed", "char", "short", "int", "long", "void",
    "const", "volatile",
];

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
            {
                i += 1;
            }
            tokens.push((start, Token::Ident(text[start..i].to_string())));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word = &text[start..i];
            let value = parse_number(word)
                .ok_or_else(|| format!("invalid number \"{word}\" at column {}", start + 1))?;
            tokens.push((start, Token::Number(value)));
        } else if let Some(p) = PUNCT.iter().find(|p| text[i..].starts_with(**p)) {
            tokens.push((i, Token::Punct(p)));
            i += p.len();
        } else {
            return Err(format!(
                "unexpected character '{}' at column {}",
                text[i..].chars().next().unwrap_or('?'),
                i + 1
            ));
        }
    }
    Ok(tokens)
}

/// A C integer literal: decimal, `0x` hex, octal; `u`/`l` suffixes allowed.
fn parse_number(word: &str) -> Option<u64> {
    let digits = word.trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()
    } else {
        digits.parse().ok()
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    len: usize,
}

/// Parses a whole expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("empty expression".into());
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        len: text.len(),
    };
    let expr = parser.additive()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((at, t)) => Err(format!(
            "unexpected {} at column {} of \"{text}\"",
            describe(t),
            at + 1
        )),
    }
}

/// Parses a type alone (`struct task_struct`, `unsigned long *`).
pub fn parse_type(text: &str) -> Result<TypeName, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        len: text.len(),
    };
    let ty = parser.type_name()?;
    match parser.peek() {
        None => Ok(ty),
        Some(t) => Err(format!("unexpected {} in type \"{text}\"", describe(t))),
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(s) => format!("\"{s}\""),
        Token::Number(n) => format!("number {n}"),
        Token::Punct(p) => format!("'{p}'"),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.pos + ahead).map(|(_, t)| t)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.len, |(at, _)| *at) + 1
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(p)) if *p == punct) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Result<(), String> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err(format!("expected '{punct}' at column {}", self.column()))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Token::Ident(name)) => {
                self.pos += 1;
                Ok(name)
            }
            _ => Err(format!("expected a name at column {}", self.column())),
        }
    }

    fn additive(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            if self.eat("+") {
                left = Expr::Add(Box::new(left), Box::new(self.unary()?));
            } else if self.eat("-") {
                left = Expr::Sub(Box::new(left), Box::new(self.unary()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("*") {
            return Ok(Expr::Deref(Box::new(self.unary()?)));
        }
        if self.eat("&") {
            return Ok(Expr::AddrOf(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        if matches!(self.peek(), Some(Token::Ident(w)) if w == "sizeof") {
            self.pos += 1;
            self.expect("(")?;
            let ty = self.type_name()?;
            self.expect(")")?;
            return Ok(Expr::Sizeof(ty));
        }
        // A cast: `(` then a type.
        if matches!(self.peek(), Some(Token::Punct("("))) && self.starts_type(1) {
            self.pos += 1;
            let ty = self.type_name()?;
            self.expect(")")?;
            return Ok(Expr::Cast(ty, Box::new(self.unary()?)));
        }
        self.postfix()
    }

    /// Whether the token `ahead` begins a type name: a C type keyword, or a name
    /// followed by `*` and then `)` or more stars (`(u64 *)`, `(pgd_t **)`), or a
    /// name alone before `)` followed by something a cast applies to.
    fn starts_type(&self, ahead: usize) -> bool {
        match self.peek_at(ahead) {
            Some(Token::Ident(w)) if TYPE_WORDS.contains(&w.as_str()) => true,
            Some(Token::Ident(_)) => {
                let mut i = ahead + 1;
                let mut stars = 0;
                while matches!(self.peek_at(i), Some(Token::Punct("*"))) {
                    i += 1;
                    stars += 1;
                }
                let closes = matches!(self.peek_at(i), Some(Token::Punct(")")));
                let operand = matches!(
                    self.peek_at(i + 1),
                    Some(Token::Ident(_) | Token::Number(_) | Token::Punct("(" | "*" | "&"))
                );
                closes && (stars > 0 || operand)
            }
            _ => false,
        }
    }

    fn type_name(&mut self) -> Result<TypeName, String> {
        let mut words = Vec::new();
        while let Some(Token::Ident(w)) = self.peek().cloned() {
            if w == "const" || w == "volatile" {
                self.pos += 1;
                continue;
            }
            let keyword = matches!(w.as_str(), "struct" | "union" | "enum");
            words.push(w);
            self.pos += 1;
            if keyword {
                words.push(self.ident()?);
                break;
            }
            // Base type words chain (`unsigned long int`); any other name ends it.
            if !TYPE_WORDS.contains(&words.last().map(String::as_str).unwrap_or("")) {
                break;
            }
        }
        if words.is_empty() {
            return Err(format!("expected a type at column {}", self.column()));
        }
        let mut pointers = 0;
        while self.eat("*") {
            pointers += 1;
        }
        Ok(TypeName {
            base: words.join(" "),
            pointers,
        })
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.primary()?;
        loop {
            if self.eat(".") {
                expr = Expr::Member(Box::new(expr), self.ident()?);
            } else if self.eat("->") {
                expr = Expr::Arrow(Box::new(expr), self.ident()?);
            } else if self.eat("[") {
                let index = self.additive()?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Token::Number(n)) => {
                self.pos += 1;
                Ok(Expr::Number(n))
            }
            Some(Token::Ident(name)) => {
                self.pos += 1;
                Ok(Expr::Name(name))
            }
            Some(Token::Punct("(")) => {
                self.pos += 1;
                let inner = self.additive()?;
                self.expect(")")?;
                Ok(inner)
            }
            Some(t) => Err(format!(
                "unexpected {} at column {}",
                describe(&t),
                self.column()
            )),
            None => Err("the expression ends too soon".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Box<Expr> {
        Box::new(Expr::Name(n.into()))
    }

    #[test]
    fn the_expressions_crash_users_type() {
        assert_eq!(
            parse("init_task.comm").unwrap(),
            Expr::Member(name("init_task"), "comm".into())
        );
        assert_eq!(
            parse("*(struct file *)0xffff8c300105f700").unwrap(),
            Expr::Deref(Box::new(Expr::Cast(
                TypeName {
                    base: "struct file".into(),
                    pointers: 1
                },
                Box::new(Expr::Number(0xffff8c300105f700))
            )))
        );
        assert_eq!(
            parse("&init_task.tasks").unwrap(),
            Expr::AddrOf(Box::new(Expr::Member(name("init_task"), "tasks".into())))
        );
        assert_eq!(
            parse("((struct task_struct *)0x10)->mm->exe_file").unwrap(),
            Expr::Arrow(
                Box::new(Expr::Arrow(
                    Box::new(Expr::Cast(
                        TypeName {
                            base: "struct task_struct".into(),
                            pointers: 1
                        },
                        Box::new(Expr::Number(16))
                    )),
                    "mm".into()
                )),
                "exe_file".into()
            )
        );
        assert_eq!(
            parse("(unsigned long)jiffies").unwrap(),
            Expr::Cast(
                TypeName {
                    base: "unsigned long".into(),
                    pointers: 0
                },
                name("jiffies")
            )
        );
        assert_eq!(
            parse("init_task.comm[0]").unwrap(),
            Expr::Index(
                Box::new(Expr::Member(name("init_task"), "comm".into())),
                Box::new(Expr::Number(0))
            )
        );
        // A parenthesised name is not a cast.
        assert_eq!(parse("(jiffies)").unwrap(), *name("jiffies"));
        assert_eq!(
            parse("(u64 *)x").unwrap(),
            Expr::Cast(
                TypeName {
                    base: "u64".into(),
                    pointers: 1
                },
                name("x")
            )
        );
    }

    #[test]
    fn bad_expressions_say_where() {
        assert!(parse("init_task.").unwrap_err().contains("expected a name"));
        assert!(parse("a b").unwrap_err().contains("column 3"));
        assert!(parse("0xZZ").unwrap_err().contains("invalid number"));
        assert!(parse("a # b").unwrap_err().contains("unexpected character"));
        assert!(parse("").is_err());
        assert!(parse("(a").unwrap_err().contains("expected ')'"));
    }
}
