# node-gyp / electron-rebuild build of what CMakeLists.txt builds (keep the two in sync), the tsbox-runtime
# client executable (scripts/build-client.sh) included.
# tsbox-init is built first by scripts/build-init.sh (static), then assembled into the addon by the embed_init
# action (csrc/addon/init_blob.S, .incbin), whose inputs make it rerun whenever tsbox-init changes.
{
  "variables": {
    "harden_cflags": ["-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fno-strict-overflow",
                      "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "cc": "<!(node -p \"process.env.CC || 'cc'\")",
    "glibc": "<!(node -p \"process.report.getReport().header.glibcVersionRuntime ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "tsbox-init",
      "type": "none",
      "actions": [
        {
          "action_name": "build_init",
          "inputs": ["scripts/build-init.sh", "<!@(ls -1 csrc/init/*.c csrc/init/*.h csrc/common/*.h)"],
          "outputs": ["<(PRODUCT_DIR)/tsbox-init"],
          "action": ["sh", "scripts/build-init.sh", "<(PRODUCT_DIR)/tsbox-init"]
        }
      ]
    },
    {
      "target_name": "tsbox-runtime-client",
      "type": "none",
      "dependencies": ["tsbox-init"],
      "actions": [
        {
          "action_name": "build_client",
          "inputs": ["scripts/build-client.sh", "<(PRODUCT_DIR)/tsbox-init", "csrc/addon/init_blob.S", "csrc/init/errname.c",
                     "<!@(ls -1 csrc/client/*.c csrc/client/*.h csrc/common/*.c csrc/common/*.h)"],
          "outputs": ["<(PRODUCT_DIR)/tsbox-runtime"],
          "action": ["sh", "scripts/build-client.sh", "<(PRODUCT_DIR)/tsbox-runtime", "<(PRODUCT_DIR)/tsbox-init"]
        }
      ]
    },
    {
      "target_name": "tsbox",
      "dependencies": ["tsbox-init"],
      "sources": ["<!@(ls -1 csrc/addon/*.c csrc/common/*.c)", "csrc/init/errname.c"],
      "actions": [
        {
          "action_name": "embed_init",
          "inputs": ["<(PRODUCT_DIR)/tsbox-init", "csrc/addon/init_blob.S"],
          "outputs": ["<(INTERMEDIATE_DIR)/init_blob.o"],
          "action": ["<(cc)", "-c", "-DTSBOX_INIT_PATH=<(PRODUCT_DIR)/tsbox-init", "csrc/addon/init_blob.S",
                     "-o", "<(INTERMEDIATE_DIR)/init_blob.o"],
          "process_outputs_as_sources": 1
        }
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-fPIC", "-fvisibility=hidden", "<@(harden_cflags)"],
      "ldflags": ["-Wl,-z,relro,-z,now", "-Wl,-z,noexecstack", "-Wl,--exclude-libs,ALL", "-Wl,-z,nodelete"],
      "libraries": ["-Wl,-Bstatic", "-lseccomp", "-Wl,-Bdynamic", "-lpthread"],
      "conditions": [
        ["glibc==1", {
          "cflags": ["-include", "<(module_root_dir)/csrc/addon/glibc_compat.h"],
          "libraries": ["-Wl,--no-as-needed", "-l:libpthread.so.0", "-Wl,--as-needed"]
        }]
      ]
    }
  ]
}
