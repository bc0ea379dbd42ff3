# node-gyp / electron-rebuild build of the same sources as CMakeLists.txt (kept in sync; not published).
# tsbox-init is built first as a static executable, then embedded into the addon by csrc/addon/init_blob.S.
{
  "targets": [
    {
      "target_name": "tsbox-init",
      "type": "executable",
      "sources": [
        "csrc/init/blob.c", "csrc/init/caps.c", "csrc/init/cgroupfs.c", "csrc/init/console.c",
        "csrc/init/devices.c", "csrc/init/main.c", "csrc/init/mountutil.c", "csrc/init/process.c",
        "csrc/init/reaper.c", "csrc/init/report.c", "csrc/init/rootfs.c", "csrc/init/system.c"
      ],
      "cflags": ["-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-static", "-Wl,-z,relro,-z,now"]
    },
    {
      "target_name": "tsbox",
      "dependencies": ["tsbox-init"],
      "sources": [
        "csrc/addon/addon.c", "csrc/addon/fdutil.c", "csrc/addon/init_memfd.c", "csrc/addon/napi_util.c",
        "csrc/addon/seccomp.c", "csrc/addon/spawn.c", "csrc/addon/waiter.c", "csrc/addon/init_blob.S"
      ],
      "defines": ["NAPI_VERSION=8", "TSBOX_INIT_PATH=<(module_root_dir)/build/Release/tsbox-init"],
      "cflags": ["-O2", "-fPIC", "-fvisibility=hidden", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-Wl,-Bstatic", "-lseccomp", "-Wl,-Bdynamic", "-lpthread", "-Wl,-z,relro,-z,now", "-Wl,-z,noexecstack"]
    }
  ]
}
