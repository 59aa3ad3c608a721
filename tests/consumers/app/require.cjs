// The CommonJS consumer: require() of the three packages (Node ≥ 20.19 loads ES modules
// without top-level await this way), then the shared program.
const tensor = require('@ggem/tensor');
const pooling = require('@ggem/pooling');
const vit = require('@ggem/vit');
const { run } = require('../dist-node/app.js');

if (typeof tensor.tensor !== 'function' || typeof pooling.ggem !== 'function' || typeof vit.createVit !== 'function')
  throw new Error('require() gave incomplete modules');
run().then((r) => console.log(JSON.stringify(r)));
