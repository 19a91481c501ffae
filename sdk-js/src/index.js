/** ES module entry: `import { init } from '…/cascade.mjs'`. */
import { init } from './init.js'

export { init }
export { CascadeError } from './errors.js'
export default { init }
