#include "dwz-shared.h"
struct shared second;
enum colour paint;
int one(shared_t *s);
void _start(void) { one(&second); }
