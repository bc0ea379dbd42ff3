/* The tsbox-init binary, embedded at build time (the build sets TSBOX_INIT_PATH to its path). */
/* The path is stringified token by token: words the compiler predefines as 1 (linux, unix) must stay
 * words in it (a checkout or build directory named linux-...). */
#undef linux
#undef unix
#define STR2(x) #x
#define STR(x) STR2(x)
  .section .rodata
  .global tsbox_init_start
  .global tsbox_init_end
  /* Visible to the addon's C files only, not exported from tsbox.node. */
  .hidden tsbox_init_start
  .hidden tsbox_init_end
  .balign 16
tsbox_init_start:
  .incbin STR(TSBOX_INIT_PATH)
tsbox_init_end:
  .section .note.GNU-stack,"",@progbits
