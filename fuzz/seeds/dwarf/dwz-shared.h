struct shared { int a; long b; struct shared *next; union { char c; short s; } u; };
typedef struct shared shared_t;
enum colour { RED, GREEN };
