/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A SQLite VFS shim for the write connection that combines the writes of
 * one commit to the WAL into a single pwrite.
 *
 * Why: SQLite writes each WAL frame as two pwrites (the 24-byte frame
 * header, then the page), and as frames are 24 bytes longer than a page
 * each page write straddles two page-cache folios. Measured on ext4 that
 * is ~1.7 us of kernel time per frame against ~0.4 us when the frames of a
 * commit go in one write: with a few frames per event it was the largest
 * part of the writer's time for single-event requests.
 *
 * How: writes to the WAL that continue the pending run are appended to a
 * buffer. The buffer is written out, and any error returned to SQLite,
 * when the page of a commit frame (a frame header whose "database size"
 * field is non-zero) has been added: so every frame of a commit is in the
 * file before SQLite publishes the commit in the wal-index, exactly as
 * without the shim. It is also written before anything that could look at
 * the file: a read, sync, truncate, size, file control or close of the
 * WAL, a write elsewhere in it, a full buffer, and the shared-memory
 * barrier of its database (defence in depth: nothing is pending there).
 * Frames not yet followed by their commit frame are invisible to every
 * other connection, so holding them back changes nothing they can see.
 *
 * Only the store's write connection opens files through this VFS; the read
 * pool, the checkpoint helper and the sync thread use the default VFS or
 * their own descriptors. Other files (journals, temp files) are opened by
 * the default VFS unchanged.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define WAL_FRAME_HDR 24
#define WALBUF_MAX (1u << 20) /* a larger commit is written in several pieces */
/* The unix VFS masks a write's length to 17 bits (seekAndWriteFd): write
 * the buffer in pieces below that. */
#define WRITE_MAX 65536

typedef struct wfile {
    sqlite3_file base;        /* pMethods = &wal_methods */
    sqlite3_file *real;       /* the default VFS's file, right after this struct */
    int is_wal;
    char *dbname;             /* main db: its name, to find it from its WAL */
    struct wfile *wal;        /* main db: its open WAL (under reg_mu) */
    struct wfile *db;         /* WAL: its main db (under reg_mu) */
    struct wfile *next;       /* main dbs of this VFS (under reg_mu) */
    /* WAL: bytes [off, off+len) waiting to be written */
    char *buf;
    size_t len, cap;
    sqlite3_int64 off;
    int commit_next;          /* the next write is the page of a commit frame */
    int err;                  /* a write-out failed where it could not be reported */
} wfile;

static sqlite3_vfs wal_vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods wal_methods;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static wfile *dbs;

static int flush(wfile *f) {
    if (f->err) return f->err;
    int rc = SQLITE_OK;
    for (size_t done = 0, n; done < f->len && rc == SQLITE_OK; done += n) {
        n = f->len - done < WRITE_MAX ? f->len - done : WRITE_MAX;
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n, f->off + (sqlite3_int64)done);
    }
    f->off += (sqlite3_int64)f->len;
    f->len = 0;
    return rc;
}

static int x_close(sqlite3_file *pf) {
    wfile *f = (wfile *)pf;
    int rc = f->is_wal ? flush(f) : SQLITE_OK;
    pthread_mutex_lock(&reg_mu);
    if (f->is_wal && f->db) f->db->wal = NULL;
    if (!f->is_wal) {
        if (f->wal) f->wal->db = NULL;
        for (wfile **pp = &dbs; *pp; pp = &(*pp)->next)
            if (*pp == f) {
                *pp = f->next;
                break;
            }
    }
    pthread_mutex_unlock(&reg_mu);
    free(f->buf);
    free(f->dbname);
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc ? rc : rc2;
}

static int x_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off) {
    wfile *f = (wfile *)pf;
    if (f->is_wal) {
        int rc = flush(f);
        if (rc) return rc;
    }
    return f->real->pMethods->xRead(f->real, p, n, off);
}

static int x_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off) {
    wfile *f = (wfile *)pf;
    if (!f->is_wal) return f->real->pMethods->xWrite(f->real, p, n, off);
    if (f->err) return f->err;
    size_t sz = (size_t)n;
    int rc;
    if (f->len && (off != f->off + (sqlite3_int64)f->len || f->len + sz > WALBUF_MAX) &&
        (rc = flush(f)))
        return rc;
    if (sz > WALBUF_MAX) return f->real->pMethods->xWrite(f->real, p, n, off);
    if (!f->len) f->off = off;
    if (f->len + sz > f->cap) {
        size_t cap = f->cap ? f->cap : 65536;
        while (cap < f->len + sz) cap *= 2;
        char *b = realloc(f->buf, cap);
        if (!b) { /* no room to combine: write what is pending, then this */
            if ((rc = flush(f))) return rc;
            return f->real->pMethods->xWrite(f->real, p, n, off);
        }
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, p, sz);
    f->len += sz;
    if (f->commit_next) {
        f->commit_next = 0;
        return flush(f);
    }
    /* A frame header: bytes 4..7 are the database size after the commit
     * for the commit frame, zero for every other frame. */
    if (sz == WAL_FRAME_HDR) {
        const unsigned char *h = p;
        f->commit_next = (h[4] | h[5] | h[6] | h[7]) != 0;
    }
    return SQLITE_OK;
}

static int x_truncate(sqlite3_file *pf, sqlite3_int64 size) {
    wfile *f = (wfile *)pf;
    if (f->is_wal) {
        int rc = flush(f);
        if (rc) return rc;
    }
    return f->real->pMethods->xTruncate(f->real, size);
}

static int x_sync(sqlite3_file *pf, int flags) {
    wfile *f = (wfile *)pf;
    if (f->is_wal) {
        int rc = flush(f);
        if (rc) return rc;
    }
    return f->real->pMethods->xSync(f->real, flags);
}

static int x_file_size(sqlite3_file *pf, sqlite3_int64 *size) {
    wfile *f = (wfile *)pf;
    if (f->is_wal) {
        int rc = flush(f);
        if (rc) return rc;
    }
    return f->real->pMethods->xFileSize(f->real, size);
}

static int x_lock(sqlite3_file *pf, int l) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xLock(f->real, l);
}
static int x_unlock(sqlite3_file *pf, int l) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xUnlock(f->real, l);
}
static int x_check_reserved(sqlite3_file *pf, int *out) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}
static int x_file_control(sqlite3_file *pf, int op, void *arg) {
    wfile *f = (wfile *)pf;
    if (f->is_wal) {
        int rc = flush(f);
        if (rc) return rc;
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}
static int x_sector_size(sqlite3_file *pf) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}
static int x_device_chars(sqlite3_file *pf) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}
static int x_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}
static int x_shm_lock(sqlite3_file *pf, int offset, int n, int flags) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}
/* SQLite publishes a commit in the wal-index around this barrier: nothing
 * of the WAL may still be pending then (the commit frame's write already
 * wrote it out; this only guards against a path that did not). A failure
 * here cannot be returned, so it is kept and fails every later write. */
static void x_shm_barrier(sqlite3_file *pf) {
    wfile *f = (wfile *)pf;
    pthread_mutex_lock(&reg_mu);
    wfile *w = f->wal;
    pthread_mutex_unlock(&reg_mu);
    if (w && w->len) {
        int rc = flush(w);
        if (rc && !w->err) w->err = rc;
    }
    f->real->pMethods->xShmBarrier(f->real);
}
static int x_shm_unmap(sqlite3_file *pf, int del) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xShmUnmap(f->real, del);
}
static int x_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **pp) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xFetch(f->real, off, n, pp);
}
static int x_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p) {
    wfile *f = (wfile *)pf;
    return f->real->pMethods->xUnfetch(f->real, off, p);
}

static int x_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *pf, int flags,
                  int *out_flags) {
    (void)vfs;
    int kind = flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL);
    if (!name || !kind) /* journals, temp files: the default VFS's own file */
        return real_vfs->xOpen(real_vfs, name, pf, flags, out_flags);
    wfile *f = (wfile *)pf;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    if (!f->is_wal && !(f->dbname = strdup(name))) return SQLITE_NOMEM;
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        free(f->dbname);
        f->dbname = NULL;
        if (f->real->pMethods) f->real->pMethods->xClose(f->real);
        pf->pMethods = NULL;
        return rc;
    }
    pthread_mutex_lock(&reg_mu);
    if (f->is_wal) {
        const char *db = sqlite3_filename_database(name);
        for (wfile *d = dbs; d && db; d = d->next)
            if (!d->wal && strcmp(d->dbname, db) == 0) {
                d->wal = f;
                f->db = d;
                break;
            }
    } else {
        f->next = dbs;
        dbs = f;
    }
    pthread_mutex_unlock(&reg_mu);
    pf->pMethods = &wal_methods;
    return SQLITE_OK;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered;

static void vfs_init(void) {
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 1) return;
    const sqlite3_io_methods m = {
        3,           x_close,        x_read,        x_write,          x_truncate,
        x_sync,      x_file_size,    x_lock,        x_unlock,         x_check_reserved,
        x_file_control, x_sector_size, x_device_chars, x_shm_map,     x_shm_lock,
        x_shm_barrier, x_shm_unmap,  x_fetch,       x_unfetch,
    };
    wal_methods = m;
    wal_vfs = *real_vfs;
    wal_vfs.szOsFile = (int)sizeof(wfile) + real_vfs->szOsFile;
    wal_vfs.pNext = NULL;
    wal_vfs.zName = RC__WAL_VFS;
    wal_vfs.xOpen = x_open;
    /* Every other method takes the vfs pointer only to reach its own
     * state (pAppData, none for unix): the copy's pointers serve as is. */
    registered = sqlite3_vfs_register(&wal_vfs, 0) == SQLITE_OK;
}

const char *rc__wal_vfs(void) {
    pthread_once(&once, vfs_init);
    return registered ? RC__WAL_VFS : NULL;
}
