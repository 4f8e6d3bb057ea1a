{
  "targets": [
    {
      "target_name": "lifeboat_fs",
      "sources": ["lifeboat_fs.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
