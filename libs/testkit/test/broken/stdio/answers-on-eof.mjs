// Broken pool worker: collects its answers and writes them only when stdin closes, so a pool
// that keeps stdin open never sees one (the stdout-buffering bug, made certain).
const answers = [];
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const line of lines) {
    if (line.trim() === '') continue;
    const task = JSON.parse(line);
    answers.push(
      task.id && task.type === 'test.words' && typeof task.params?.text === 'string'
        ? { success: true, result: { words: task.params.text.split(/\s+/).filter(Boolean).length } }
        : { success: false, error: { code: 'INVALID_INPUT', message: 'refused' } },
    );
  }
});
process.stdin.on('end', () => {
  for (const answer of answers) process.stdout.write(`${JSON.stringify(answer)}\n`);
});
