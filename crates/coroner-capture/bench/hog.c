/* Anonymous memory for the capture benchmark's guest: maps SIZE MiB, fills it with
 * a mix of incompressible, text-like and zero pages (a third each), signals READY
 * by creating /tmp/hog.ready, then sleeps holding it. Built static on the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 256;
    size_t len = mib << 20;
    unsigned char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    static const char words[] = "task_struct mm_struct vm_area_struct inode dentry "
        "page folio slab kmalloc spin_lock mutex rcu_read_lock schedule ";
    unsigned long long x = 88172645463325252ULL;
    for (size_t off = 0; off < len; off += 4096) {
        size_t page = off / 4096;
        if (page % 3 == 0) {
            for (size_t i = 0; i < 4096; i += 8) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                memcpy(p + off + i, &x, 8);
            }
        } else if (page % 3 == 1) {
            for (size_t i = 0; i < 4096; i++)
                p[off + i] = words[(i * 7 + page) % (sizeof words - 1)];
        } else {
            memset(p + off, 0, 4096);
        }
    }
    close(open("/tmp/hog.ready", O_CREAT | O_WRONLY, 0644));
    for (;;) pause();
}
