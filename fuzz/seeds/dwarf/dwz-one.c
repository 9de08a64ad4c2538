#include "dwz-shared.h"
struct shared first;
int one(shared_t *s) { return s->a; }
