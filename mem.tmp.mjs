const mods = process.argv.slice(2);
const rss = () => (process.memoryUsage().rss / 1048576).toFixed(0);
const heap = () => (process.memoryUsage().heapUsed / 1048576).toFixed(0);
let line = `base rss ${rss()} heap ${heap()}`;
for (const m of mods) { await import(m); global.gc?.(); line += ` | +${m} rss ${rss()} heap ${heap()}`; }
console.log(line);
