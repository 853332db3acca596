// The sandbox's seccomp filter: a classic-BPF program that bubblewrap loads (`--seccomp FD`) just before it runs
// the command. Node has no libseccomp binding, so the program is assembled here: check the architecture, then
// answer EPERM for the system calls a test suite never needs (tracing other processes, mounting, namespaces,
// kernel modules and keys, BPF, io_uring...) and allow everything else.
//
// Choices: a system call made under a different architecture than the host's (an i386 or x32 binary on an
// x86_64 host) kills the process, because its numbers mean different calls and no filter entry matches them.
// clone() with a namespace flag is EPERM; clone3() is ENOSYS (its flags live in memory the filter cannot
// read), which makes the C library fall back to clone(), as container runtimes do.

/** struct sock_filter: u16 code, u8 jt, u8 jf, u32 k. */
export type BpfInstruction = { code: number; jt: number; jf: number; k: number };

/** One step of the program as written: a jump names its targets by label. */
type Step =
  | { op: "ld"; offset: number }
  | { op: "jeq" | "jge" | "jset"; k: number; then: string; else?: string }
  | { op: "ret"; k: number }
  | { op: "label"; name: string };

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

export const SECCOMP_RET = { KILL_PROCESS: 0x80000000, ERRNO: 0x00050000, ALLOW: 0x7fff0000 } as const;
const EPERM = 1;
const ENOSYS = 38;

/** struct seccomp_data: nr, arch, instruction_pointer, args[6] (the low word of args[0] on little-endian hosts). */
const DATA = { nr: 0, arch: 4, arg0Low: 16 } as const;

/** Assembles steps into instructions, resolving labels to the forward offsets classic BPF allows (0..255). */
export function assemble(steps: readonly Step[]): BpfInstruction[] {
  const labels = new Map<string, number>();
  let pc = 0;
  for (const step of steps) {
    if (step.op === "label") {
      if (labels.has(step.name)) throw new Error(`seccomp: label ${step.name} defined twice`);
      labels.set(step.name, pc);
    } else pc++;
  }
  const out: BpfInstruction[] = [];
  const offset = (from: number, label: string | undefined): number => {
    if (label === undefined) return 0;
    const target = labels.get(label);
    if (target === undefined) throw new Error(`seccomp: unknown label ${label}`);
    const distance = target - (from + 1);
    if (distance < 0 || distance > 255) throw new Error(`seccomp: jump to ${label} is ${distance} instructions, outside 0..255`);
    return distance;
  };
  for (const step of steps) {
    const at = out.length;
    if (step.op === "label") continue;
    if (step.op === "ld") out.push({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: step.offset });
    else if (step.op === "ret") out.push({ code: BPF_RET_K, jt: 0, jf: 0, k: step.k >>> 0 });
    else {
      const code = step.op === "jeq" ? BPF_JEQ_K : step.op === "jge" ? BPF_JGE_K : BPF_JSET_K;
      out.push({ code, jt: offset(at, step.then), jf: offset(at, step.else), k: step.k >>> 0 });
    }
  }
  if (out.length > 4096) throw new Error("seccomp: program longer than BPF_MAXINSNS");
  return out;
}

/** The bytes the kernel (through bubblewrap) reads: host byte order, which is little-endian on both architectures. */
export function encode(program: readonly BpfInstruction[]): Buffer {
  const buffer = Buffer.alloc(program.length * 8);
  program.forEach((instruction, index) => {
    buffer.writeUInt16LE(instruction.code, index * 8);
    buffer.writeUInt8(instruction.jt, index * 8 + 2);
    buffer.writeUInt8(instruction.jf, index * 8 + 3);
    buffer.writeUInt32LE(instruction.k, index * 8 + 4);
  });
  return buffer;
}

export type SeccompArch = "x64" | "arm64";

type ArchTable = { audit: number; x32Bit?: number; clone: number; clone3: number; denied: Record<string, number> };

// Numbers from <asm/unistd_64.h> (x86_64) and <asm-generic/unistd.h> (aarch64). The newer calls (>= 424)
// share one number on every architecture.
const COMMON_NEW = {
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  pidfd_getfd: 438,
  mount_setattr: 442,
  quotactl_fd: 443,
};

export const ARCHES: Record<SeccompArch, ArchTable> = {
  x64: {
    audit: 0xc000003e,
    x32Bit: 0x40000000,
    clone: 56,
    clone3: 435,
    denied: {
      ptrace: 101,
      process_vm_readv: 310,
      process_vm_writev: 311,
      mount: 165,
      umount2: 166,
      pivot_root: 155,
      chroot: 161,
      unshare: 272,
      setns: 308,
      kexec_load: 246,
      kexec_file_load: 320,
      init_module: 175,
      finit_module: 313,
      delete_module: 176,
      bpf: 321,
      perf_event_open: 298,
      userfaultfd: 323,
      lookup_dcookie: 212,
      keyctl: 250,
      add_key: 248,
      request_key: 249,
      reboot: 169,
      swapon: 167,
      swapoff: 168,
      acct: 163,
      quotactl: 179,
      syslog: 103,
      open_by_handle_at: 304,
      name_to_handle_at: 303,
      settimeofday: 164,
      clock_settime: 227,
      adjtimex: 159,
      clock_adjtime: 305,
      iopl: 172,
      ioperm: 173,
      _sysctl: 156,
      ...COMMON_NEW,
    },
  },
  arm64: {
    audit: 0xc00000b7,
    clone: 220,
    clone3: 435,
    denied: {
      ptrace: 117,
      process_vm_readv: 270,
      process_vm_writev: 271,
      mount: 40,
      umount2: 39,
      pivot_root: 41,
      chroot: 51,
      unshare: 97,
      setns: 268,
      kexec_load: 104,
      kexec_file_load: 294,
      init_module: 105,
      finit_module: 273,
      delete_module: 106,
      bpf: 280,
      perf_event_open: 241,
      userfaultfd: 282,
      lookup_dcookie: 18,
      keyctl: 219,
      add_key: 217,
      request_key: 218,
      reboot: 142,
      swapon: 224,
      swapoff: 225,
      acct: 89,
      quotactl: 60,
      syslog: 116,
      open_by_handle_at: 265,
      name_to_handle_at: 264,
      settimeofday: 170,
      clock_settime: 112,
      adjtimex: 171,
      clock_adjtime: 266,
      ...COMMON_NEW,
    },
  },
};

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (CLONE_NEWTIME's bit is the exit signal in clone()). */
export const CLONE_NEW_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** The filter for one architecture, as instructions. */
export function sandboxFilter(arch: SeccompArch): BpfInstruction[] {
  const table = ARCHES[arch];
  const steps: Step[] = [
    { op: "ld", offset: DATA.arch },
    { op: "jeq", k: table.audit, then: "native", else: "kill" },
    { op: "label", name: "native" },
    { op: "ld", offset: DATA.nr },
  ];
  if (table.x32Bit !== undefined) steps.push({ op: "jge", k: table.x32Bit, then: "kill" });
  for (const nr of new Set(Object.values(table.denied))) steps.push({ op: "jeq", k: nr, then: "eperm" });
  steps.push(
    { op: "jeq", k: table.clone3, then: "enosys" },
    { op: "jeq", k: table.clone, then: "clone" },
    { op: "ret", k: SECCOMP_RET.ALLOW },
    { op: "label", name: "clone" },
    { op: "ld", offset: DATA.arg0Low },
    { op: "jset", k: CLONE_NEW_NAMESPACES, then: "eperm" },
    { op: "ret", k: SECCOMP_RET.ALLOW },
    { op: "label", name: "eperm" },
    { op: "ret", k: SECCOMP_RET.ERRNO | EPERM },
    { op: "label", name: "enosys" },
    { op: "ret", k: SECCOMP_RET.ERRNO | ENOSYS },
    { op: "label", name: "kill" },
    { op: "ret", k: SECCOMP_RET.KILL_PROCESS },
  );
  return assemble(steps);
}

/** The host's architecture as the filter knows it, or undefined when there is no table for it. */
export function hostSeccompArch(arch: string = process.arch): SeccompArch | undefined {
  return arch === "x64" || arch === "arm64" ? arch : undefined;
}

/** The names of the calls the filter denies (for the docs and the evidence). */
export function deniedSyscalls(arch: SeccompArch): string[] {
  return Object.keys(ARCHES[arch].denied);
}
