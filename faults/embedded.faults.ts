import { faultSuite } from './suite.js';

faultSuite('embedded', true);
