import { createRequire } from 'node:module';
import 'onnxruntime-node';
import 'sharp';

// The conversion threads load sharp's and onnxruntime's native libraries. Loaded here, in the
// main thread, they stay loaded when a thread exits or is stopped; unloaded with the last thread
// that used them, their own threads could crash the process (sharp's documented requirement for
// worker threads on glibc Linux). @gutenye/ocr-node brings its own copy of sharp: that one too.
createRequire(import.meta.resolve('@gutenye/ocr-node'))('sharp');
