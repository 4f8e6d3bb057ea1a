/*
 * The few file-system calls Lifeboat needs that Node does not offer, on Linux:
 *
 *   utimens(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec)   utimensat(..., AT_SYMLINK_NOFOLLOW): times to the
 *                                                              nanosecond (Node's utimes stops at microseconds),
 *                                                              on a symlink itself
 *   seekData(fd, offset) / seekHole(fd, offset)                lseek SEEK_DATA / SEEK_HOLE: where a sparse file's
 *                                                              data and holes are (-1: none after offset)
 *   mknod(path, kind, mode, major, minor)                      fifos and device nodes, without running mknod(1)
 *   listXattrs(path) / getXattr(path, name) / setXattr(...)    the l*xattr calls: never through a symlink, so a
 *   / removeXattr(path, name)                                  link's own attributes are read and written
 *
 * A path is a string (UTF-8) or a Buffer (its exact bytes: file names that are not valid UTF-8). Failures
 * throw an Error whose `code` is the errno name ('ENOENT', ...), like Node's own, with `syscall` and `path`.
 * Every call is synchronous: the callers run them in worker threads or between batches of other work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define NAPI_VERSION 8
#include <node_api.h>

static const struct {
  int no;
  const char *name;
} errnames[] = {
    {EPERM, "EPERM"},       {ENOENT, "ENOENT"},   {EIO, "EIO"},         {ENXIO, "ENXIO"},
    {E2BIG, "E2BIG"},       {EBADF, "EBADF"},     {ENOMEM, "ENOMEM"},   {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},     {EBUSY, "EBUSY"},     {EEXIST, "EEXIST"},   {EXDEV, "EXDEV"},
    {ENOTDIR, "ENOTDIR"},   {EISDIR, "EISDIR"},   {EINVAL, "EINVAL"},   {ENOSPC, "ENOSPC"},
    {EROFS, "EROFS"},       {EMLINK, "EMLINK"},   {ERANGE, "ERANGE"},   {ENAMETOOLONG, "ENAMETOOLONG"},
    {ENOSYS, "ENOSYS"},     {ELOOP, "ELOOP"},     {ENODATA, "ENODATA"}, {EOPNOTSUPP, "EOPNOTSUPP"},
    {EDQUOT, "EDQUOT"},     {EOVERFLOW, "EOVERFLOW"},
};

static const char *errname(int no) {
  for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
    if (errnames[i].no == no) return errnames[i].name;
  return "EIO";
}

/* Throws a Node-like system error. Returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, int no, const char *syscall, const char *path) {
  char msg[512];
  const char *name = errname(no);
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", name, strerror(no), syscall, path ? path : "");
  napi_value err, code, message, sys, p, num;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_set_named_property(env, err, "code", code);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, err, "syscall", sys);
  napi_create_int32(env, -no, &num);
  napi_set_named_property(env, err, "errno", num);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, err, "path", p);
  }
  napi_throw(env, err);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *what) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
  return NULL;
}

/* A path argument (string or Buffer) as a NUL-terminated copy; NULL (with an exception set) when invalid. */
static char *get_path(napi_env env, napi_value v, const char *what) {
  bool is_buffer = false;
  napi_is_buffer(env, v, &is_buffer);
  if (is_buffer) {
    void *data;
    size_t len;
    napi_get_buffer_info(env, v, &data, &len);
    if (memchr(data, 0, len) != NULL) {
      throw_type(env, "a path must not contain NUL bytes");
      return NULL;
    }
    char *out = malloc(len + 1);
    if (!out) return NULL;
    memcpy(out, data, len);
    out[len] = 0;
    return out;
  }
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    throw_type(env, what);
    return NULL;
  }
  size_t len;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *out = malloc(len + 1);
  if (!out) return NULL;
  napi_get_value_string_utf8(env, v, out, len + 1, &len);
  if (strlen(out) != len) {
    free(out);
    throw_type(env, "a path must not contain NUL bytes");
    return NULL;
  }
  return out;
}

static bool get_i64(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  *out = (int64_t)d;
  return true;
}

#define ARGS(n)                                                   \
  size_t argc = n;                                                \
  napi_value argv[n];                                             \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);           \
  if (argc < n) return throw_type(env, "missing arguments");

static napi_value utimens(napi_env env, napi_callback_info info) {
  ARGS(5);
  char *path = get_path(env, argv[0], "path must be a string or Buffer");
  if (!path) return NULL;
  int64_t as, an, ms, mn;
  if (!get_i64(env, argv[1], &as) || !get_i64(env, argv[2], &an) || !get_i64(env, argv[3], &ms) || !get_i64(env, argv[4], &mn)) {
    free(path);
    return throw_type(env, "times must be numbers");
  }
  struct timespec ts[2] = {{.tv_sec = (time_t)as, .tv_nsec = (long)an}, {.tv_sec = (time_t)ms, .tv_nsec = (long)mn}};
  int r = utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
  int no = errno;
  napi_value ret = NULL;
  if (r != 0) throw_errno(env, no, "utimensat", path);
  free(path);
  return ret;
}

static napi_value seek(napi_env env, napi_callback_info info, int whence, const char *name) {
  ARGS(2);
  int32_t fd;
  int64_t off;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || !get_i64(env, argv[1], &off)) return throw_type(env, "fd and offset must be numbers");
  off_t r = lseek(fd, (off_t)off, whence);
  napi_value out;
  if (r < 0) {
    if (errno == ENXIO) {
      napi_create_double(env, -1, &out);
      return out;
    }
    return throw_errno(env, errno, name, NULL);
  }
  napi_create_double(env, (double)r, &out);
  return out;
}

static napi_value seek_data(napi_env env, napi_callback_info info) { return seek(env, info, SEEK_DATA, "lseek(SEEK_DATA)"); }
static napi_value seek_hole(napi_env env, napi_callback_info info) { return seek(env, info, SEEK_HOLE, "lseek(SEEK_HOLE)"); }

static napi_value do_mknod(napi_env env, napi_callback_info info) {
  ARGS(5);
  char *path = get_path(env, argv[0], "path must be a string or Buffer");
  if (!path) return NULL;
  char kind[16] = {0};
  size_t klen;
  uint32_t mode, major, minor;
  if (napi_get_value_string_utf8(env, argv[1], kind, sizeof kind, &klen) != napi_ok || napi_get_value_uint32(env, argv[2], &mode) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &major) != napi_ok || napi_get_value_uint32(env, argv[4], &minor) != napi_ok) {
    free(path);
    return throw_type(env, "kind must be a string; mode, major and minor numbers");
  }
  mode_t type = strcmp(kind, "fifo") == 0 ? S_IFIFO : strcmp(kind, "chardev") == 0 ? S_IFCHR : strcmp(kind, "blockdev") == 0 ? S_IFBLK : 0;
  if (type == 0) {
    free(path);
    return throw_type(env, "kind must be fifo, chardev or blockdev");
  }
  int r = mknod(path, type | (mode & 07777), type == S_IFIFO ? 0 : makedev(major, minor));
  if (r != 0) throw_errno(env, errno, "mknod", path);
  free(path);
  return NULL;
}

static napi_value list_xattrs(napi_env env, napi_callback_info info) {
  ARGS(1);
  char *path = get_path(env, argv[0], "path must be a string or Buffer");
  if (!path) return NULL;
  char stackbuf[4096];
  char *buf = stackbuf;
  ssize_t n = llistxattr(path, buf, sizeof stackbuf);
  while (n < 0 && errno == ERANGE) {
    /* Larger than the stack buffer: ask the size, then read (again if it grew meanwhile). */
    ssize_t want = llistxattr(path, NULL, 0);
    if (want < 0) break;
    if (buf != stackbuf) free(buf);
    buf = malloc((size_t)want + 1);
    if (!buf) {
      free(path);
      return throw_errno(env, ENOMEM, "llistxattr", NULL);
    }
    n = llistxattr(path, buf, (size_t)want + 1);
  }
  if (n < 0) {
    int no = errno;
    if (buf != stackbuf) free(buf);
    throw_errno(env, no, "llistxattr", path);
    free(path);
    return NULL;
  }
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t k = 0;
  for (ssize_t i = 0; i < n;) {
    size_t len = strnlen(buf + i, (size_t)(n - i));
    if (len > 0) {
      /* Names are bytes: the caller decides what to do with one that is not UTF-8. */
      napi_value b;
      void *data;
      napi_create_buffer_copy(env, len, buf + i, &data, &b);
      napi_set_element(env, arr, k++, b);
    }
    i += (ssize_t)len + 1;
  }
  if (buf != stackbuf) free(buf);
  free(path);
  return arr;
}

/* The attribute's value as a Buffer, or undefined when it does not exist (ENODATA). */
static napi_value get_xattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  char *path = get_path(env, argv[0], "path must be a string or Buffer");
  if (!path) return NULL;
  char *name = get_path(env, argv[1], "name must be a string");
  if (!name) {
    free(path);
    return NULL;
  }
  char stackbuf[4096];
  char *buf = stackbuf;
  ssize_t n = lgetxattr(path, name, buf, sizeof stackbuf);
  for (int attempt = 0; n < 0 && errno == ERANGE && attempt < 4; attempt++) {
    ssize_t want = lgetxattr(path, name, NULL, 0);
    if (want < 0) break;
    if (buf != stackbuf) free(buf);
    buf = malloc((size_t)want + 1);
    if (!buf) {
      free(path);
      free(name);
      return throw_errno(env, ENOMEM, "lgetxattr", NULL);
    }
    n = lgetxattr(path, name, buf, (size_t)want + 1);
  }
  napi_value out = NULL;
  if (n < 0) {
    int no = errno;
    if (no == ENODATA) napi_get_undefined(env, &out);
    else throw_errno(env, no, "lgetxattr", path);
  } else {
    void *data;
    napi_create_buffer_copy(env, (size_t)n, buf, &data, &out);
  }
  if (buf != stackbuf) free(buf);
  free(path);
  free(name);
  return out;
}

static napi_value set_xattr(napi_env env, napi_callback_info info) {
  ARGS(3);
  char *path = get_path(env, argv[0], "path must be a string or Buffer");
  if (!path) return NULL;
  char *name = get_path(env, argv[1], "name must be a string");
  if (!name) {
    free(path);
    return NULL;
  }
  bool is_buffer = false;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer) {
    free(path);
    free(name);
    return throw_type(env, "value must be a Buffer");
  }
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[2], &data, &len);
  if (lsetxattr(path, name, data, len, 0) != 0) throw_errno(env, errno, "lsetxattr", path);
  free(path);
  free(name);
  return NULL;
}

static napi_value remove_xattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  char *path = get_path(env, argv[0], "path must be a string or Buffer");
  if (!path) return NULL;
  char *name = get_path(env, argv[1], "name must be a string");
  if (!name) {
    free(path);
    return NULL;
  }
  if (lremovexattr(path, name) != 0) throw_errno(env, errno, "lremovexattr", path);
  free(path);
  free(name);
  return NULL;
}

/* Give back to the system the memory glibc keeps in its arenas after frees (a long-lived daemon after a job
   whose worker threads allocated much): returns whether any was released. */
static napi_value malloc_trim_now(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value out;
  napi_get_boolean(env, released != 0, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"utimens", NULL, utimens, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seekData", NULL, seek_data, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seekHole", NULL, seek_hole, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknod", NULL, do_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listXattrs", NULL, list_xattrs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getXattr", NULL, get_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setXattr", NULL, set_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"removeXattr", NULL, remove_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, malloc_trim_now, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
