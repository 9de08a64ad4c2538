/* Source of the dwarf fuzz seeds: every kind of type the DWARF reader maps.
 * Rebuild: see README.md in this folder. */
typedef unsigned long u64;
typedef _Bool bool;

enum small { A, B = 5, C };
enum negative { MINUS = -2, PLUS = 3 };
enum wide { BIG = 0xffffffffffffffffUL };
enum signed_wide { LOW = -0x7fffffffffffffffL - 1, HIGH = 0x7fffffffffffffffL };

struct node;
union value {
	long l;
	double d;
	char bytes[8];
};

struct bits {
	unsigned int a : 3;
	unsigned int b : 7;
	int c : 1;
	unsigned long long d : 40;
	unsigned char e : 2;
	bool f : 1;
};

struct node {
	struct node *next, *prev;
	const volatile int cv;
	char *restrict name;
	int matrix[2][3];
	union value v;
	struct bits bits;
	struct {
		int x;
		union {
			short s;
			unsigned short u;
		};
	};
	void (*callback)(struct node *, int, ...);
	int (*table[4])(void);
	enum small small;
	enum negative negative;
	enum wide wide;
	enum signed_wide signed_wide;
	struct opaque *hidden;
	_Atomic int counter;
	float f;
	int zero[0];
	u64 data[];
};

struct node root;
u64 counter_array[16];
static int local_static = 3;

int use(struct node *n, union value *v, ...)
{
	static int inside = 1;
	return n->matrix[1][2] + v->bytes[0] + inside + local_static;
}

void _start(void)
{
	use(&root, &root.v);
}
