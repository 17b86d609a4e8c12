/* The first part of the one-file `trioserver` binary: unpack once, then exec.
 *
 * The file is this launcher (a static executable: it needs no libraries of the host),
 * then a zstd-compressed tree (PyInstaller's one-folder build of the server, with its
 * modules as plain .pyc files), then a trailer naming the tree by a hash of its bytes.
 *
 * Why not PyInstaller's own one-file mode: it unpacks everything into a new temporary
 * directory on every start (~0.2 s, and 30-90 MB of RAM when /tmp is a tmpfs) and imports
 * from a compressed archive (~0.1 s more). Here the tree is unpacked on the first start
 * into a cache directory keyed by the build's hash, and every later start only checks that
 * the directory is there and execs the server in it: one process, started as fast as a
 * one-folder install.
 *
 * Where it unpacks: $TRIOSERVER_CACHE_DIR if set; else $XDG_CACHE_HOME/trioserver or
 * ~/.cache/trioserver; else a private trioserver-<uid> under $TMPDIR, /tmp, /var/tmp or
 * /dev/shm. A directory on a filesystem mounted noexec is skipped (the server could not be
 * run from it), and if none is left the launcher says so and what to set.
 *
 * Concurrency: a tree is unpacked into a temporary sibling and renamed into place, so a
 * tree that exists is complete, and two first starts at once both succeed. Each running
 * server holds a shared flock on its tree's .lock (the descriptor survives exec); after
 * unpacking a new build, trees of other builds that nobody holds are deleted.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define MAGIC "TRIOPAY1"
#define KEY_LEN 48
#define TRAILER_LEN (8 + 8 + KEY_LEN + 8)
#define PREFIX "trioserver-"
#define CHUNK (256 * 1024)
/* The oldest glibc the unpacked tree runs on (scripts/build-binary passes what it found). */
#ifndef MIN_GLIBC
#define MIN_GLIBC "2.36"
#endif

static int verbose;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("trioserver: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(127);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    if (!verbose) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("trioserver launcher: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Format a path into out[PATH_MAX]; a path that long is an error, never a silent cut. */
static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX) die("path too long: %.200s...", out);
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* -- finding ourselves ------------------------------------------------------------------ */

static void find_self(const char *argv0, char *out) {
    ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
    if (n > 0) {
        out[n] = 0;
        return;
    }
    /* No /proc (a bare chroot): argv[0] as a path, or looked up on PATH. */
    if (strchr(argv0, '/')) {
        if (!realpath(argv0, out)) die("cannot find my own file %s: %s", argv0, strerror(errno));
        return;
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        char cand[PATH_MAX];
        if (len && snprintf(cand, sizeof cand, "%.*s/%s", (int)len, path, argv0) < (int)sizeof cand &&
            access(cand, X_OK) == 0 && realpath(cand, out))
            return;
        path = end ? end + 1 : NULL;
    }
    die("cannot find my own file (no /proc/self/exe, and %s is not on PATH)", argv0);
}

/* -- the host's C library ------------------------------------------------------------------ */

/* Warn, before the server's own loader fails with a terser message, when the host's glibc
 * is older than the tree needs: every glibc defines a symbol version GLIBC_x.y for each
 * release up to its own, so its file holds the string "GLIBC_" MIN_GLIBC or it is older.
 * A system with no glibc at those paths (musl) is reported if exec fails. */
static void check_glibc(void) {
    const char *paths[] = {
#if defined(__x86_64__)
        "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
#elif defined(__aarch64__)
        "/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6",
#endif
        "/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6", "/usr/lib/libc.so.6", NULL};
    static const char want[] = "GLIBC_" MIN_GLIBC; /* sizeof includes the NUL: an exact name */
    for (int i = 0; paths[i]; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st;
        void *map = MAP_FAILED;
        if (fstat(fd, &st) == 0 && st.st_size > 0)
            map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (map == MAP_FAILED) return;
        int found = memmem(map, (size_t)st.st_size, want, sizeof want) != NULL;
        munmap(map, (size_t)st.st_size);
        if (!found)
            fprintf(stderr, "trioserver: warning: %s is older than glibc " MIN_GLIBC ", which this build needs; "
                    "use the trioserver-static build here (scripts/build-binary --static)\n", paths[i]);
        return;
    }
}

/* Whether the host has `lib` where its loader looks by default. */
static int host_has(const char *lib) {
    const char *dirs[] = {
#if defined(__x86_64__)
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
#elif defined(__aarch64__)
        "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
#endif
        "/lib64", "/usr/lib64", "/lib", "/usr/lib", NULL};
    char path[PATH_MAX];
    for (int i = 0; dirs[i]; i++) {
        pathf(path, "%s/%s", dirs[i], lib);
        if (access(path, R_OK) == 0) return 1;
    }
    return 0;
}

/* -- choosing where to unpack --------------------------------------------------------- */

static int mkdirs(const char *path, mode_t mode) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* 1 if `dir` can hold the tree: a directory we can write, on a filesystem that lets us run
 * programs (and, for shared places such as /tmp, ours alone); else 0, with `why` set. */
static int usable(const char *dir, int private_dir, const char **why) {
    struct stat st;
    struct statvfs vfs;
    if (mkdirs(dir, 0700) != 0) { *why = strerror(errno); return 0; }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) { *why = "not a directory"; return 0; }
    if (private_dir && (st.st_uid != geteuid() || (st.st_mode & 077))) {
        *why = "not owned by this user alone";
        return 0;
    }
    if (access(dir, W_OK | X_OK) != 0) { *why = strerror(errno); return 0; }
    if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_NOEXEC)) { *why = "its filesystem is mounted noexec"; return 0; }
    return 1;
}

static void choose_root(char *out) {
    const char *why = "";
    const char *forced = getenv("TRIOSERVER_CACHE_DIR");
    if (forced && *forced) {
        if (!usable(forced, 0, &why))
            die("cannot unpack into TRIOSERVER_CACHE_DIR=%s: %s; point it at a writable directory "
                "on a filesystem that allows running programs", forced, why);
        pathf(out, "%s", forced);
        return;
    }
    char tried[4096] = "";
    size_t used = 0;
    char cand[PATH_MAX];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = 0;
    const char *tmps[] = {getenv("TMPDIR"), "/tmp", "/var/tmp", "/dev/shm"};
    for (int i = -2; i < 4; i++) {
        int private_dir = i >= 0;
        if (i == -2) {
            if (!xdg || xdg[0] != '/') continue;
            n = snprintf(cand, sizeof cand, "%s/trioserver", xdg);
        } else if (i == -1) {
            if (!home || home[0] != '/' || (xdg && xdg[0] == '/')) continue;
            n = snprintf(cand, sizeof cand, "%s/.cache/trioserver", home);
        } else {
            if (!tmps[i] || tmps[i][0] != '/') continue;
            n = snprintf(cand, sizeof cand, "%s/trioserver-%u", tmps[i], (unsigned)geteuid());
        }
        if (n <= 0 || n >= (int)sizeof cand) continue;
        if (usable(cand, private_dir, &why)) {
            pathf(out, "%s", cand);
            return;
        }
        note("not unpacking into %s: %s", cand, why);
        int w = snprintf(tried + used, sizeof tried - used, "\n  %s: %s", cand, why);
        if (w > 0 && (size_t)w < sizeof tried - used) used += w;
    }
    die("found no directory to unpack into that is writable and allows running programs:%s\n"
        "Set TRIOSERVER_CACHE_DIR to such a directory (one not on a noexec mount).", tried);
}

/* -- unpacking -------------------------------------------------------------------------- */

typedef struct {
    int fd;
    uint64_t left; /* compressed bytes not yet read */
    ZSTD_DStream *z;
    unsigned char inbuf[CHUNK];
    ZSTD_inBuffer in;
} reader;

static int rd(reader *r, void *dst, size_t n) {
    ZSTD_outBuffer out = {dst, n, 0};
    while (out.pos < out.size) {
        if (r->in.pos == r->in.size) {
            if (r->left == 0) return -1;
            size_t want = r->left < CHUNK ? (size_t)r->left : CHUNK;
            ssize_t got = read(r->fd, r->inbuf, want);
            if (got <= 0) return -1;
            r->left -= (uint64_t)got;
            r->in.src = r->inbuf;
            r->in.size = (size_t)got;
            r->in.pos = 0;
        }
        size_t ret = ZSTD_decompressStream(r->z, &out, &r->in);
        if (ZSTD_isError(ret)) {
            fprintf(stderr, "trioserver: corrupt payload: %s\n", ZSTD_getErrorName(ret));
            return -1;
        }
    }
    return 0;
}

/* A path from the archive must stay inside the tree. */
static int safe_relpath(const char *p) {
    if (!*p || *p == '/') return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
        s += len + (e ? 1 : 0);
    }
    return 1;
}

static int unpack_into(reader *r, const char *dir) {
    static unsigned char buf[CHUNK];
    char path[PATH_MAX], name[PATH_MAX];
    for (;;) {
        unsigned char head[17];
        if (rd(r, head, sizeof head) != 0) return -1;
        char kind = (char)head[0];
        mode_t mode = le32(head + 1) & 07777;
        uint32_t name_len = le32(head + 5);
        uint64_t size = le64(head + 9);
        if (kind == 'e') return 0;
        if (name_len == 0 || name_len >= sizeof name || rd(r, name, name_len) != 0) return -1;
        name[name_len] = 0;
        if (!safe_relpath(name) || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
            fprintf(stderr, "trioserver: bad path in payload: %s\n", name);
            return -1;
        }
        if (kind == 'd') {
            if (mkdir(path, mode | 0700) != 0 && errno != EEXIST) goto fail;
        } else if (kind == 'l') {
            char target[PATH_MAX];
            if (size == 0 || size >= sizeof target || rd(r, target, (size_t)size) != 0) return -1;
            target[size] = 0;
            if (target[0] == '/' || symlink(target, path) != 0) goto fail;
        } else if (kind == 'f') {
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode | 0600);
            if (fd < 0) goto fail;
            while (size > 0) {
                size_t n = size < CHUNK ? (size_t)size : CHUNK;
                if (rd(r, buf, n) != 0) { close(fd); return -1; }
                for (size_t done = 0; done < n;) {
                    ssize_t w = write(fd, buf + done, n - done);
                    if (w < 0) { if (errno == EINTR) continue; close(fd); goto fail; }
                    done += (size_t)w;
                }
                size -= n;
            }
            if (close(fd) != 0) goto fail;
        } else {
            fprintf(stderr, "trioserver: bad entry kind %d in payload\n", kind);
            return -1;
        }
    }
fail:
    fprintf(stderr, "trioserver: cannot unpack %s: %s\n", path, strerror(errno));
    return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Delete trees of other builds (and leftovers of failed unpacks) that no server holds. */
static void clean_others(const char *root, const char *key) {
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0 || strcmp(e->d_name, key) == 0) continue;
        char lock[PATH_MAX], trash[PATH_MAX], path[PATH_MAX];
        pathf(path, "%s/%s", root, e->d_name);
        pathf(lock, "%s/.lock", path);
        int fd = open(lock, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            /* No lock: a leftover of a crashed unpack or delete, once it is an hour old (a
             * live unpack creates its lock right after its directory). */
            struct stat st;
            if (errno == ENOENT && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_mtime < time(NULL) - 3600)
                rm_tree(path);
            continue;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            pathf(trash, "%s/" PREFIX "trash-%ld", root, (long)getpid());
            if (rename(path, trash) == 0) {
                note("deleting the unused tree of another build, %s", path);
                rm_tree(trash);
            }
        }
        close(fd);
    }
    closedir(d);
}

/* Open `tree`/.lock and hold it shared; -1 if the tree is not (or no longer) there. */
static int hold_tree(const char *tree) {
    char lock[PATH_MAX], exe[PATH_MAX];
    pathf(lock, "%s/.lock", tree);
    pathf(exe, "%s/trioserver", tree);
    int fd = open(lock, O_RDONLY); /* no O_CLOEXEC: the server keeps holding it */
    if (fd < 0) return -1;
    if (flock(fd, LOCK_SH) != 0 || access(exe, X_OK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int unpack(const char *self, uint64_t offset, uint64_t size, const char *root, const char *key) {
    char tmp[PATH_MAX], final[PATH_MAX], lock[PATH_MAX];
    pathf(final, "%s/%s", root, key);
    pathf(tmp, "%s/%s.tmp%ld", root, key, (long)getpid());
    rm_tree(tmp);
    if (mkdir(tmp, 0755) != 0) die("cannot create %s: %s", tmp, strerror(errno));
    pathf(lock, "%s/.lock", tmp);
    int lfd = open(lock, O_RDWR | O_CREAT, 0644);
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0) die("cannot create %s: %s", lock, strerror(errno));

    static reader r;
    r.fd = open(self, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0 || lseek(r.fd, (off_t)offset, SEEK_SET) < 0) die("cannot read %s: %s", self, strerror(errno));
    r.left = size;
    r.z = ZSTD_createDStream();
    ZSTD_initDStream(r.z);
    r.in.src = r.inbuf;
    r.in.size = r.in.pos = 0;
    note("unpacking into %s", final);
    if (unpack_into(&r, tmp) != 0) {
        rm_tree(tmp);
        die("unpacking into %s failed (is the disk full, or the file cut short?)", root);
    }
    ZSTD_freeDStream(r.z);
    close(r.fd);
    syncfs(lfd); /* a power cut must not leave a complete-looking tree of empty files */
    if (rename(tmp, final) != 0) {
        /* Another first start got there before us: use its tree. */
        rm_tree(tmp);
        close(lfd);
        return -1;
    }
    flock(lfd, LOCK_SH); /* now held by the server we exec */
    clean_others(root, key);
    return lfd;
}

int main(int argc, char **argv) {
    (void)argc;
    verbose = getenv("TRIOSERVER_LAUNCHER_VERBOSE") != NULL;
    char self[PATH_MAX], root[PATH_MAX], tree[PATH_MAX], exe[PATH_MAX];
    find_self(argv[0] ? argv[0] : "trioserver", self);

    int fd = open(self, O_RDONLY | O_CLOEXEC);
    struct stat st;
    unsigned char t[TRAILER_LEN];
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < TRAILER_LEN ||
        pread(fd, t, TRAILER_LEN, st.st_size - TRAILER_LEN) != TRAILER_LEN || memcmp(t + TRAILER_LEN - 8, MAGIC, 8) != 0)
        die("%s carries no server payload (was it stripped or cut short?)", self);
    close(fd);
    uint64_t offset = le64(t), size = le64(t + 8);
    char key[KEY_LEN + 1];
    memcpy(key, t + 16, KEY_LEN);
    key[KEY_LEN] = 0;
    if (strncmp(key, PREFIX, strlen(PREFIX)) != 0 || strchr(key, '/') || offset + size > (uint64_t)st.st_size)
        die("%s has a damaged trailer", self);

    check_glibc();
    choose_root(root);
    pathf(tree, "%s/%s", root, key);
    int held = hold_tree(tree);
    if (held < 0) {
        held = unpack(self, offset, size, root, key);
        if (held < 0) held = hold_tree(tree);
        if (held < 0) die("cannot use the unpacked tree %s", tree);
    }
    note("running from %s", tree);
    setenv("TRIOSERVER_BINARY", self, 1);
    setenv("TRIOSERVER_UNPACKED", tree, 1);
    /* PyInstaller's bootloader links libz.so.1 before it puts the bundled libraries on the
     * search path: on a host without zlib, point the loader at the bundle's copy (a
     * directory holding only that, so nothing else of the host's is shadowed). The
     * bootloader keeps this value as LD_LIBRARY_PATH_ORIG for the server's children. */
    if (!host_has("libz.so.1")) {
        const char *old = getenv("LD_LIBRARY_PATH");
        static char libs[PATH_MAX * 2];
        int has_old = old && *old;
        if (snprintf(libs, sizeof libs, "%s/_libz%s%s", tree, has_old ? ":" : "", has_old ? old : "") >= (int)sizeof libs)
            die("LD_LIBRARY_PATH is too long");
        note("no libz.so.1 on this system: using the bundled one");
        setenv("LD_LIBRARY_PATH", libs, 1);
    }
    pathf(exe, "%s/trioserver", tree);
    /* argv[0] names the unpacked bootloader: without /proc, that is how it finds itself. */
    argv[0] = exe;
    execv(exe, argv);
    int err = errno;
    if (err == EACCES || err == EPERM)
        die("cannot run %s: %s. Its filesystem may forbid running programs: set TRIOSERVER_CACHE_DIR to a "
            "directory that allows it.", exe, strerror(err));
    if (err == ENOENT)
        die("cannot run %s: this system has no glibc dynamic loader (/lib64/ld-linux-*.so). "
            "Use the trioserver-static build on musl (Alpine) or very old systems.", exe);
    die("cannot run %s: %s", exe, strerror(err));
}
